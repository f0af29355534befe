import type { CheckpointIncident } from '../checkpoint/index.ts'
import type { Incident } from './incident.ts'

/**
 * A checkpoint round's incident (a divergence or an invalid checkpoint) as an alert: it names
 * no entries (the conflict is between roots), so its `key` is what tells one from another.
 */
export function incidentOfCheckpoint(
  reportingNode: string,
  incident: CheckpointIncident,
  detectedAt: Date = new Date(),
): Incident {
  return {
    kind: incident.kind,
    key: incident.key,
    reportingNode,
    origin: incident.origin,
    entryIds: [],
    detectedAt: detectedAt.toISOString(),
    summary: incident.summary,
    evidence: incident.evidence,
  }
}
