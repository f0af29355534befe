export {
  ALERT_BODY_LIMITS,
  type AlertBody,
  alertBodySchema,
  INCIDENT_KINDS,
} from '../core/alert-body.ts'
export { AlertService, type AlertServiceOptions, type PartingFinder } from './alert-service.ts'
export { incidentOfCheckpoint } from './checkpoint-incident.ts'
export { alertText, evidenceJson, type RenderOptions, renderAlertEmail } from './email.ts'
export {
  alertBodyOf,
  INCIDENT_ID_TAG,
  type Incident,
  type IncidentKind,
  incidentId,
  type KeyedIncidentKind,
  normalizeIncident,
} from './incident.ts'
export { subjectOf } from './kind-texts.ts'
