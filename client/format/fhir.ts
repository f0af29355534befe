import type { EncodedEntry, Entry } from '../../node/core/entry.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { toFhirBundle } from '../../node/core/fhir/index.ts'

/**
 * Verified entries as a FHIR R4 Bundle (type collection) of AuditEvents, one JSON document.
 * Only entries that verified are included: an entry that failed is reported, never exported
 * as if it were part of the record.
 */
export function toFhirJson(entries: readonly EncodedEntry[]): string {
  const bundle = toFhirBundle(entries.map((e) => e.entry as Entry<AuditEvent>))
  return `${JSON.stringify(bundle, null, 2)}\n`
}
