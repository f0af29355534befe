import { canonicalJson } from '../canonical-json.ts'
import type { Entry } from '../entry.ts'
import type { AuditEvent } from '../event.ts'
import {
  type CheckedPage,
  completenessPatientOf,
  type Failure,
  type MembershipHistory,
  type NetworkKeys,
  parseQueryFilter,
  type QueryAnswerJson,
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
  /** The verifier's membership history: the checkpoint is verified under the version it names. */
  history?: MembershipHistory
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
  /**
   * The patient whose whole trail the search asks for (completenessPatientOf of the mapped
   * filter and the scope; without a scope, a search naming no patient is taken as scoped to
   * the patient of the Bundle's completeness proof): the pages of such a search must carry a
   * completeness proof, and together hold every entry it names. Undefined for a narrowed search.
   */
  patientId: string | undefined
  /** The page for checkAnswerCompleteness: the rebuilt answer (with its completeness) and its verification. */
  page: CheckedPage
}

/**
 * Verifies a searchset Bundle of GET /fhir/AuditEvent without trusting its node: the filter
 * and cursor come from the Bundle's self link (mapped as the node maps a search), the proofs
 * and heads from its extensions, checked by verifyQueryAnswer like any query answer; then
 * every AuditEvent shown must be exactly the mapping of its proven entry, with the leaf index
 * of that entry. An entry left out of the middle of a page is not visible here: compare two
 * nodes' Bundles of the same search with crossCheckAnswers (`ehrlog verify-fhir A B`), or,
 * for one patient's whole trail, check every page's `page` with checkAnswerCompleteness.
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
    ...(check.history ? { history: check.history } : {}),
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
  const checked = { ...result, verified, failures: [...failures, ...result.failures] }
  return {
    result: checked,
    filter,
    search,
    next: links.next,
    patientId: filter && completenessPatientOf(filter, check.scope ?? claimedScope(answer)),
    page: { answer, result: checked },
  }
}

/**
 * A patient session's search names no patient (the node scopes it): offline, without the
 * session, the patient is the one the Bundle's completeness proof is for. The pages must then
 * prove that patient's whole trail, each entry about them; the statement names them.
 */
function claimedScope(answer: Partial<QueryAnswerJson>): QueryScope {
  const patientId = answer.completeness?.patientId
  return typeof patientId === 'string' && patientId !== '' ? { patientId } : {}
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

/**
 * The patient whose whole trail the search URL asks for, or undefined: a search about one
 * patient with no other narrowing and no cursor (the first page; `_count` is only paging),
 * mapped as the node maps it and judged by completenessPatientOf. A malformed search is
 * undefined here: the node refuses it.
 */
export function trailPatientOf(url: string, scope: QueryScope = {}): string | undefined {
  try {
    const parsed = parseFhirSearch(groupParams(new URL(url).searchParams))
    if (parsed.cursor !== undefined) return undefined
    return completenessPatientOf(parseQueryFilter(parsed.filter), scope)
  } catch {
    return undefined
  }
}
