import { canonicalJson } from '../canonical-json.ts'
import type { Entry } from '../entry.ts'
import type { AuditEvent } from '../event.ts'
import {
  type Failure,
  type NetworkKeys,
  parseQueryFilter,
  type QueryFilter,
  type QueryScope,
  type QueryVerification,
  type VerifiedCheckpoints,
  verifyQueryAnswer,
} from '../trust/index.ts'
import { type FhirMapping, toFhirAuditEventAs } from './balp.ts'
import {
  answerOfSearchBundle,
  INCLUSION_PROOF_EXTENSION as INCLUSION_PROOF,
} from './search-bundle.ts'
import { CURSOR_PARAM, groupParams, parseFhirSearch } from './search-params.ts'

export interface SearchBundleCheck {
  keys: NetworkKeys
  /** A patient session's scope, when the verifier knows it. */
  scope?: QueryScope
  verifiedCheckpoints?: VerifiedCheckpoints
  /**
   * The URL the verifier itself asked: its search is checked instead of the Bundle's self
   * link, which the node writes (a lying node could name a wider search there).
   */
  requested?: string
}

export interface SearchBundleVerification {
  /** The query answer's verification; `failures` adds the Bundle's own (self link, resources). */
  result: QueryVerification
  /** The filter the self link asks for: what every entry was checked to match. */
  filter: QueryFilter | undefined
  /** The search the self link names, without its cursor: two Bundles of one search share it. */
  search: string | undefined
  next: string | undefined
}

/**
 * Verifies a searchset Bundle of GET /fhir/AuditEvent without trusting its node: the filter
 * and cursor come from the Bundle's self link (mapped as the node maps a search), the proofs
 * and heads from its extensions, checked by verifyQueryAnswer like any query answer; then
 * every AuditEvent shown must be exactly the mapping of its proven entry, with the leaf index
 * of that entry. An entry left out of the middle of a page is not visible here: compare two
 * nodes' Bundles of the same search with crossCheckAnswers (`ehrlog verify-fhir A B`).
 */
export function verifySearchBundle(
  bundle: unknown,
  check: SearchBundleCheck,
): SearchBundleVerification {
  const { answer, resources, links } = answerOfSearchBundle(bundle)
  const failures: Failure[] = []
  let filter: QueryFilter | undefined
  let cursor: string | undefined
  let search: string | undefined
  let mapping: FhirMapping = 'ehrlog'
  try {
    const url = new URL(check.requested ?? links.self ?? '')
    const params = groupParams(url.searchParams)
    const parsed = parseFhirSearch(params)
    filter = parseQueryFilter(parsed.filter)
    cursor = parsed.cursor
    mapping = parsed.mapping ?? 'ehrlog'
    params.delete(CURSOR_PARAM)
    search = [...params].map(([k, v]) => `${k}=${v.join('&')}`).join('&')
  } catch (err) {
    failures.push({
      entryId: 'bundle',
      reason: `self link ${JSON.stringify(links.self)} is not a search: ${(err as Error).message}`,
    })
  }
  const result = verifyQueryAnswer(answer, {
    keys: check.keys,
    filter: filter ?? { patient: '\u0000no filter' },
    ...(check.scope ? { scope: check.scope } : {}),
    ...(cursor === undefined ? {} : { cursor }),
    ...(check.verifiedCheckpoints ? { verifiedCheckpoints: check.verifiedCheckpoints } : {}),
  })
  const shownOf = new Map<string, { resource: unknown; leafIndex: unknown }>()
  const items = answer.entries ?? []
  items.forEach((item, i) => {
    if (typeof item?.bytes === 'string')
      shownOf.set(item.bytes, { resource: resources[i], leafIndex: leafIndexOf(bundle, i) })
  })
  const verified = result.verified.filter((v) => {
    const shown = shownOf.get(toBase64(v.entry.bytes))
    const expected = toFhirAuditEventAs(mapping, v.entry.entry as Entry<AuditEvent>)
    let reason: string | undefined
    if (!shown || canonicalJson(shown.resource) !== canonicalJson(expected))
      reason = 'the AuditEvent shown is not the mapping of its proven entry'
    else if (shown.leafIndex !== v.entry.entry.seq - 1)
      reason = `leafIndex is ${JSON.stringify(shown.leafIndex)}, the entry is leaf ${v.entry.entry.seq - 1}`
    if (reason) failures.push({ entryId: v.id, reason, entry: v.entry })
    return reason === undefined
  })
  return {
    result: { ...result, verified, failures: [...failures, ...result.failures] },
    filter,
    search,
    next: links.next,
  }
}

function leafIndexOf(bundle: unknown, i: number): unknown {
  const entry = (bundle as { entry?: Array<{ resource?: { extension?: unknown[] } }> }).entry?.[i]
  const ext = entry?.resource?.extension?.find(
    (e) => (e as { url?: unknown }).url === INCLUSION_PROOF,
  ) as { extension?: Array<{ url?: unknown; valueInteger?: unknown }> } | undefined
  return ext?.extension?.find((p) => p.url === 'leafIndex')?.valueInteger
}

/** Standard base64 of bytes, as the answer's entries carry them (no Buffer: browser too). */
function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}
