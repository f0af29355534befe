import type { Entry } from '../core/entry.ts'
import type { AuditEvent } from '../core/event.ts'
import type { ToFhirOptions } from '../core/fhir/audit-event.ts'
import { type FhirMapping, toFhirAuditEventAs } from '../core/fhir/balp.ts'
import {
  COMPLETENESS_PROOF_EXTENSION,
  INCLUSION_PROOF_EXTENSION,
  QUERY_ANSWER_EXTENSION,
} from '../core/fhir/search-bundle.ts'
import type { Extension, FhirAuditEvent, FhirBundle } from '../core/fhir/types.ts'
import type { AnswerEntryJson, QueryAnswerJson } from '../core/trust/index.ts'

/*
 * A query answer as a FHIR searchset Bundle (docs/fhir.md, "Search"); its extensions are
 * defined, and read back for verification, in node/core/fhir/search-bundle.ts.
 */

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
  opts: ToFhirOptions & { baseUrl?: string; firstPage?: boolean; mapping?: FhirMapping } = {},
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
  const extensions: Extension[] = [{ url: QUERY_ANSWER_EXTENSION, extension: parts }]
  // The query service attaches it to every page of a one-patient, all-time search.
  if (answer.completeness)
    extensions.push({
      url: COMPLETENESS_PROOF_EXTENSION,
      extension: [
        { url: 'patientId', valueString: answer.completeness.patientId },
        { url: 'proof', valueBase64Binary: answer.completeness.proof },
      ],
    })
  const bundle: SearchBundle = {
    resourceType: 'Bundle',
    meta: { extension: extensions },
    type: 'searchset',
    link: [
      { relation: 'self', url: links.self },
      ...(links.next === undefined ? [] : [{ relation: 'next', url: links.next }]),
    ],
  }
  if (opts.firstPage && links.next === undefined) bundle.total = answer.entries.length
  if (answer.entries.length > 0) {
    // Proofs of one page share their upper tree nodes (and every entry under the same cut
    // the same top): each hash is converted to base64 once per page.
    const hashes = new Map<string, string>()
    bundle.entry = answer.entries.map((item) => {
      const resource = searchResource(item, hashes, opts)
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

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * One answer entry as its AuditEvent with the inclusion-proof extension appended. The bytes
 * are parsed, not decoded again with decodeEntry: they are this node's own, checked when the
 * store read them a moment ago, and the client verifies them against the proof anyway. No
 * second canonical-form check and leaf hash per entry, and each shared proof hash converted
 * once: together a fifth less CPU for the writer (docs/performance.md, "FHIR search").
 */
function searchResource(
  item: AnswerEntryJson,
  hashes: Map<string, string>,
  opts: ToFhirOptions & { mapping?: FhirMapping },
): FhirAuditEvent {
  const entry = JSON.parse(utf8.decode(Buffer.from(item.bytes, 'base64'))) as Entry<AuditEvent>
  const resource = toFhirAuditEventAs(opts.mapping ?? 'ehrlog', entry, opts)
  resource.extension = [...(resource.extension ?? []), proofExtension(item, entry.seq, hashes)]
  return resource
}

function proofExtension(
  item: AnswerEntryJson,
  seq: number,
  hashes: Map<string, string>,
): Extension {
  return {
    url: INCLUSION_PROOF_EXTENSION,
    extension: [
      { url: 'entry', valueBase64Binary: item.bytes },
      { url: 'leafIndex', valueInteger: seq - 1 },
      { url: 'treeSize', valueInteger: item.treeSize },
      ...item.proof.map((h) => {
        let b64 = hashes.get(h)
        if (b64 === undefined) {
          b64 = Buffer.from(h, 'hex').toString('base64')
          hashes.set(h, b64)
        }
        return { url: 'hash', valueBase64Binary: b64 }
      }),
    ],
  }
}
