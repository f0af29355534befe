import { decodeEntry, type Entry } from '../entry.ts'
import type { AuditEvent } from '../event.ts'
import { fromHex, toHex } from '../hex.ts'
import type { AnswerEntryJson, QueryAnswerJson } from '../trust/index.ts'
import { type ToFhirOptions, toFhirAuditEvent } from './audit-event.ts'
import { EHRLOG_FHIR_BASE } from './codes.ts'
import type { Extension, FhirAuditEvent, FhirBundle } from './types.ts'

/*
 * A query answer as a FHIR searchset Bundle (docs/fhir.md, "Search"): every AuditEvent
 * carries its entry's bytes and inclusion proof in the inclusion-proof extension, and the
 * Bundle's meta carries, once, what the proofs lead to (the cosigned checkpoint, the signed
 * heads) and what the cross-check needs. A plain FHIR client ignores both; a verifying
 * client rebuilds the query answer from them (answerOfSearchBundle) and verifies it as any.
 */

export const INCLUSION_PROOF_EXTENSION = `${EHRLOG_FHIR_BASE}/StructureDefinition/inclusion-proof`
export const QUERY_ANSWER_EXTENSION = `${EHRLOG_FHIR_BASE}/StructureDefinition/query-answer`

/** Parts of the query-answer extension; each value is a valueString of JSON. */
export const ANSWER_PARTS = ['node', 'filter', 'checkpoint', 'head', 'held', 'through'] as const

export interface SearchBundleLinks {
  self: string
  /** The next page's URL; absent on the last page. */
  next?: string
}

export type SearchBundle = FhirBundle & {
  meta: { extension: Extension[] }
  link: Array<{ relation: string; url: string }>
}

/**
 * The searchset Bundle of one answer page. `total` is given only when the page is the whole
 * result (no cursor in, none out): counting every match of a paged search would cost a
 * second pass over the index.
 */
export function toSearchBundle(
  answer: QueryAnswerJson,
  links: SearchBundleLinks,
  opts: ToFhirOptions & { baseUrl?: string; firstPage?: boolean } = {},
): SearchBundle {
  const parts: Extension[] = [
    { url: 'node', valueString: JSON.stringify(answer.node) },
    { url: 'filter', valueString: JSON.stringify(answer.filter) },
  ]
  if (answer.checkpoint)
    parts.push({ url: 'checkpoint', valueString: JSON.stringify(answer.checkpoint) })
  for (const head of answer.heads) parts.push({ url: 'head', valueString: JSON.stringify(head) })
  parts.push({ url: 'held', valueString: JSON.stringify(answer.held) })
  if (answer.through !== undefined)
    parts.push({ url: 'through', valueString: JSON.stringify(answer.through) })
  const bundle: SearchBundle = {
    resourceType: 'Bundle',
    meta: { extension: [{ url: QUERY_ANSWER_EXTENSION, extension: parts }] },
    type: 'searchset',
    link: [
      { relation: 'self', url: links.self },
      ...(links.next === undefined ? [] : [{ relation: 'next', url: links.next }]),
    ],
  }
  if (opts.firstPage && links.next === undefined) bundle.total = answer.entries.length
  if (answer.entries.length > 0) {
    bundle.entry = answer.entries.map((item) => {
      const resource = searchResource(item, opts)
      return opts.baseUrl !== undefined && resource.id !== undefined
        ? {
            fullUrl: `${opts.baseUrl}/AuditEvent/${resource.id}`,
            resource,
            search: { mode: 'match' },
          }
        : { resource, search: { mode: 'match' } }
    })
  }
  return bundle
}

/** One answer entry as its AuditEvent with the inclusion-proof extension appended. */
function searchResource(item: AnswerEntryJson, opts: ToFhirOptions): FhirAuditEvent {
  const entry = decodeEntry(Buffer.from(item.bytes, 'base64')).entry as Entry<AuditEvent>
  const resource = toFhirAuditEvent(entry, opts)
  resource.extension = [...(resource.extension ?? []), proofExtension(item, entry.seq)]
  return resource
}

function proofExtension(item: AnswerEntryJson, seq: number): Extension {
  return {
    url: INCLUSION_PROOF_EXTENSION,
    extension: [
      { url: 'entry', valueBase64Binary: item.bytes },
      { url: 'leafIndex', valueInteger: seq - 1 },
      { url: 'treeSize', valueInteger: item.treeSize },
      ...item.proof.map((h) => ({
        url: 'hash',
        valueBase64Binary: Buffer.from(fromHex(h, 32) ?? []).toString('base64'),
      })),
    ],
  }
}

/**
 * The query answer inside a searchset Bundle, for verifyQueryAnswer; `resources` are the
 * AuditEvents as shown, each without its inclusion-proof extension, so the verifier can
 * check that what a FHIR client reads is what the proven bytes say. Untrusted input: anything
 * missing or malformed comes back missing, and verification names it.
 */
export function answerOfSearchBundle(bundle: unknown): {
  answer: Partial<QueryAnswerJson>
  resources: unknown[]
  links: Record<string, string>
} {
  const b = (isRecord(bundle) ? bundle : {}) as Record<string, unknown>
  const meta = isRecord(b.meta) ? b.meta : {}
  const ext = arrayOf(meta.extension).find((e) => e.url === QUERY_ANSWER_EXTENSION)
  const answer: Partial<QueryAnswerJson> & { heads: unknown[] } = { v: 1, heads: [] }
  const parsed = (text: unknown): unknown => {
    try {
      return typeof text === 'string' ? JSON.parse(text) : undefined
    } catch {
      return undefined
    }
  }
  for (const part of arrayOf(ext?.extension)) {
    const value = parsed(part.valueString)
    const name = part.url
    if (name === 'head') answer.heads.push(value)
    else if (name === 'checkpoint') answer.checkpoint = value as QueryAnswerJson['checkpoint']
    else if (name === 'held') answer.held = value as QueryAnswerJson['held']
    else if (name === 'through') answer.through = value as string
    else if (name === 'node') answer.node = value as string
    else if (name === 'filter') answer.filter = value as QueryAnswerJson['filter']
  }
  if (ext === undefined) answer.entries = undefined
  const resources: unknown[] = []
  const entries: Partial<AnswerEntryJson>[] = []
  for (const item of arrayOf(b.entry)) {
    const resource = isRecord(item.resource) ? item.resource : {}
    const extensions = arrayOf(resource.extension)
    const proof = extensions.find((e) => e.url === INCLUSION_PROOF_EXTENSION)
    const rest = extensions.filter((e) => e !== proof)
    const { extension: _dropped, ...shown } = resource
    resources.push(rest.length > 0 ? { ...shown, extension: rest } : shown)
    const parts = arrayOf(proof?.extension)
    const one = (url: string) => parts.find((p) => p.url === url)
    const hashes = parts
      .filter((p) => p.url === 'hash')
      .map((p) => {
        const bytes =
          typeof p.valueBase64Binary === 'string' ? base64Bytes(p.valueBase64Binary) : undefined
        return bytes?.length === 32 ? toHex(bytes) : 'malformed'
      })
    entries.push({
      bytes: one('entry')?.valueBase64Binary as string,
      treeSize: one('treeSize')?.valueInteger as number,
      proof: hashes,
    })
  }
  if (ext !== undefined) answer.entries = entries as AnswerEntryJson[]
  const links: Record<string, string> = {}
  for (const l of arrayOf(b.link))
    if (typeof l.relation === 'string' && typeof l.url === 'string') links[l.relation] = l.url
  return { answer, resources, links }
}

function base64Bytes(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined
  return new Uint8Array(Buffer.from(text, 'base64'))
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function arrayOf(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : []
}
