export {
  entryOfFhirId,
  fhirIdOfEntry,
  type ToFhirOptions,
  toFhirAuditEvent,
} from './audit-event.ts'
export {
  balpProfileOf,
  FHIR_MAPPINGS,
  type FhirMapping,
  toBalpAuditEvent,
  toFhirAuditEventAs,
} from './balp.ts'
export { INGEST_BUNDLE_TYPES, parseFhirAuditEvents, toFhirBundle } from './bundle.ts'
export {
  BALP_PROFILES,
  EHRLOG_ACTION_SYSTEM,
  EHRLOG_EVENT_EXTENSION,
  EHRLOG_NODE_SYSTEM,
  FHIR_ACTIONS,
  FHIR_OUTCOMES,
  type FhirAction,
  type FhirOutcome,
} from './codes.ts'
export { fromFhirAuditEvent, parseFhirAuditEvent } from './from-fhir.ts'
export type { BundleType, FhirAuditEvent, FhirBundle, FhirIssue } from './types.ts'
export { validateAuditEvent, validateAuditEventBundle } from './validate.ts'
