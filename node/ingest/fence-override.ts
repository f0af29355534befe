import { type AuditEvent, LIMITS, parseEvent } from '../core/event.ts'

/** The patient id of an entry about the node itself: no patient's record was touched. */
export const NO_PATIENT = '-'

/**
 * The entry that records an operator's override of the own-feed fence (`ehrlog node start
 * --override-fence REASON`): an ordinary `event` entry, so that every member stores and
 * verifies it as it does any other, and an auditor finds it with `ehrlog query --action other`
 * or by its resource `ehrlog_node`. The reason is the operator's words, cut to fit.
 */
export function fenceOverrideEvent(
  node: string,
  reason: string,
  feedSize: number,
  now: Date,
): AuditEvent {
  const notes = `started with --override-fence at feed size ${feedSize}: ${oneLine(reason)}`
  return parseEvent({
    patientId: NO_PATIENT,
    actorId: `operator@${node}`,
    action: 'other',
    detail: 'own-feed fence override',
    resource: 'ehrlog_node',
    resourceId: node,
    time: now.toISOString(),
    outcome: 'success',
    notes: notes.slice(0, LIMITS.notesLength),
  })
}

/** Control characters are refused in notes: the operator's reason is flattened to one line. */
function oneLine(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return flat.length > 0 ? flat : '(no reason given)'
}
