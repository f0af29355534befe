import { toHex } from '../hex.ts'
import { fromBase64 } from '../trust/answer-fields.ts'
import type { AnswerEntryJson, QueryAnswerJson } from '../trust/index.ts'
import { EHRLOG_FHIR_BASE } from './codes.ts'

/*
 * A query answer as a FHIR searchset Bundle (docs/fhir.md, "Search"; node/api/fhir-search-bundle.ts
 * builds it): every AuditEvent carries its entry's bytes and inclusion proof in the inclusion-proof extension, and the
 * Bundle's meta carries, once, what the proofs lead to (the cosigned checkpoint, the signed
 * heads) and what the cross-check needs, and for one patient's whole trail the completeness
 * proof. A plain FHIR client ignores them; a verifying
 * client rebuilds the query answer from them (answerOfSearchBundle) and verifies it as any.
 */

export const INCLUSION_PROOF_EXTENSION = `${EHRLOG_FHIR_BASE}/StructureDefinition/inclusion-proof`
export const QUERY_ANSWER_EXTENSION = `${EHRLOG_FHIR_BASE}/StructureDefinition/query-answer`
/**
 * On every page of a search about exactly one patient over all time (the rule of
 * completenessPatientOf, applied to the mapped filter): the completeness proof of the page's
 * checkpoint, with the patient it is for (docs/fhir.md, "Proofs in the Bundle").
 */
export const COMPLETENESS_PROOF_EXTENSION = `${EHRLOG_FHIR_BASE}/StructureDefinition/completeness-proof`

/** Parts of the query-answer extension; each value is a valueString of JSON. */
export const ANSWER_PARTS = ['node', 'filter', 'checkpoint', 'head', 'held', 'through'] as const

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
  const completeness = arrayOf(meta.extension).find((e) => e.url === COMPLETENESS_PROOF_EXTENSION)
  if (completeness !== undefined) {
    // Left as found (a missing part stays missing): checkAnswerCompleteness names it.
    const parts = arrayOf(completeness.extension)
    answer.completeness = {
      patientId: parts.find((p) => p.url === 'patientId')?.valueString as string,
      proof: parts.find((p) => p.url === 'proof')?.valueBase64Binary as string,
    }
  }
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
        const bytes = fromBase64(p.valueBase64Binary)
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function arrayOf(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : []
}
