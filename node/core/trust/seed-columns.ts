import { type EncodedEntry, entryId } from '../entry.ts'
import type { AuditEvent } from '../event.ts'

/**
 * The prototype's logs table columns, plus the origin node: how the CLI and the portal show
 * entries, so both show one entry the same way.
 */
export const SEED_COLUMNS = [
  'LOG_ID',
  'USER_NAME',
  'USER_ID',
  'AUDITOR_ID',
  'ACTION_TYPE',
  'TABLE AFFECTED IN EHR',
  'TIMESTAMP',
  'NOTES',
  'ORIGIN',
] as const

/** "PRINT : prescription", as the prototype showed ACTION_TYPE. */
export function actionType(event: AuditEvent): string {
  const action = event.action.toUpperCase()
  return event.detail ? `${action} : ${event.detail}` : action
}

/** "2023-12-04 19:22:00": the event time in UTC, unambiguous unlike DD-MM-YYYY. */
export function timestamp(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
}

export function seedRow(e: EncodedEntry, notesWidth = 48): string[] {
  if (e.entry.kind !== 'event') return recordRow(e, notesWidth)
  const event = e.entry.body as AuditEvent
  return [
    entryId(e.entry.origin, e.entry.seq),
    event.patientName ?? '',
    event.patientId,
    event.actorId,
    actionType(event),
    event.resource,
    timestamp(event.time),
    clip(event.notes ?? '', notesWidth),
    e.entry.origin,
  ]
}

/** Shortens text for a table cell, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** A user or alert record in the same columns: its kind and operation, who, what it names. */
function recordRow(e: EncodedEntry, notesWidth: number): string[] {
  const body = e.entry.body as Record<string, unknown>
  const text = (v: unknown) => (typeof v === 'string' ? v : '')
  const what = e.entry.kind === 'user' ? text(body.op) : text(body.kind)
  const notes = e.entry.kind === 'user' ? text(body.username) : text(body.summary)
  return [
    entryId(e.entry.origin, e.entry.seq),
    '',
    '',
    text(body.by),
    `${e.entry.kind.toUpperCase()} : ${what}`,
    '',
    text(body.detectedAt) ? timestamp(text(body.detectedAt)) : '',
    clip(notes, notesWidth),
    e.entry.origin,
  ]
}
