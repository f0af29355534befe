import { entryId } from '../../core/entry.ts'
import type { AuditEvent } from '../../core/event.ts'
import type { Integrity, VerifiedEntry } from '../../core/trust/index.ts'

/*
 * The access report's rows (EHDS Annex II 3.2: who, which data, when, from where), built
 * from verified entries only. Pure (no DOM), so the CSV and the sorting are tested in Node.
 */

/** Accesses to the record, or views of the audit trail itself (queries and entry-proof reads). */
export type Section = 'accesses' | 'views'

export interface ReportRow {
  section: Section
  id: string
  origin: string
  seq: number
  /** The event time, ISO 8601 UTC. */
  time: string
  patientId: string
  actorId: string
  actorName: string | undefined
  /** The account kind a query record names in `detail` (docs/query.md); undefined otherwise. */
  account: string | undefined
  /** The account registered itself and no hospital vouched for it (a patient unbound, an auditor unapproved). */
  selfRegistered: boolean
  action: AuditEvent['action']
  /** For accesses: the EHR's detail (e.g. "prescription"); views keep theirs in `account`. */
  detail: string | undefined
  resource: string
  resourceId: string | undefined
  outcome: AuditEvent['outcome']
  notes: string
  integrity: Integrity
}

/** A query of the log, or a read of one entry with its proof: both are views of the audit trail. */
export function isTrailView(event: AuditEvent): boolean {
  return event.resource === 'audit_log' && (event.action === 'query' || event.action === 'read')
}

/** The rows of the event entries among `verified`; user and alert records are not accesses. */
export function reportRowsOf(verified: readonly VerifiedEntry[]): ReportRow[] {
  const rows: ReportRow[] = []
  for (const v of verified) {
    const { entry } = v.entry
    if (entry.kind !== 'event') continue
    const event = entry.body as AuditEvent
    const view = isTrailView(event)
    rows.push({
      section: view ? 'views' : 'accesses',
      id: entryId(entry.origin, entry.seq),
      origin: entry.origin,
      seq: entry.seq,
      time: event.time,
      patientId: event.patientId,
      actorId: event.actorId,
      actorName: event.actorName,
      account: view ? event.detail : undefined,
      selfRegistered: view && /\bself-registered\b/.test(event.detail ?? ''),
      action: event.action,
      detail: view ? undefined : event.detail,
      resource: event.resource,
      resourceId: event.resourceId,
      outcome: event.outcome,
      notes: event.notes ?? '',
      integrity: v.integrity,
    })
  }
  return rows
}

/** Newest first by event time; ties by origin, then the later seq first. */
export function newestFirst(rows: readonly ReportRow[]): ReportRow[] {
  return [...rows].sort(
    (a, b) => b.time.localeCompare(a.time) || a.origin.localeCompare(b.origin) || b.seq - a.seq,
  )
}

const ACTION_WORDS: Record<AuditEvent['action'], string> = {
  create: 'Created',
  read: 'Viewed',
  update: 'Changed',
  delete: 'Deleted',
  print: 'Printed',
  export: 'Exported',
  login: 'Logged in',
  logout: 'Logged out',
  query: 'Searched',
  other: 'Other',
}

/** "Viewed", "Printed: prescription"; for views "Searched the audit trail", "Read one entry with its proof". */
export function whatOf(row: ReportRow): string {
  if (row.section === 'views')
    return row.action === 'query' ? 'Searched the audit trail' : 'Read one entry with its proof'
  const word = ACTION_WORDS[row.action]
  return row.detail ? `${word}: ${row.detail}` : word
}

/** The data category: the EHR table or FHIR resource type, with the record's id when given. */
export function dataOf(row: ReportRow): string {
  if (row.section === 'views') return 'audit log'
  return row.resourceId ? `${row.resource} ${row.resourceId}` : row.resource
}

/** The name where the EHR gave one, else the id. */
export function whoOf(row: ReportRow): string {
  return row.actorName ?? row.actorId
}

/** Formats event times in the browser's zone, naming the zone ("4 Dec 2023, 20:00:00 CET"). */
export function timeFormatter(locale?: string, timeZone?: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
    ...(timeZone === undefined ? {} : { timeZone }),
  })
}

export const CSV_HEADERS = [
  'section',
  'when_utc',
  'when_local',
  'who_id',
  'who_name',
  'account',
  'what',
  'action',
  'data',
  'where',
  'patient',
  'outcome',
  'notes',
  'entry',
  'integrity',
] as const

/** The report as RFC 4180 CSV (CRLF lines), the same rows as the page, newest first. */
export function reportCsv(rows: readonly ReportRow[], format: Intl.DateTimeFormat): string {
  const lines = newestFirst(rows).map((r) => [
    r.section === 'views' ? 'audit trail view' : 'access',
    r.time,
    format.format(new Date(r.time)),
    r.actorId,
    r.actorName ?? '',
    r.account ?? '',
    whatOf(r),
    r.action,
    dataOf(r),
    r.origin,
    r.patientId,
    r.outcome,
    r.notes,
    r.id,
    r.integrity,
  ])
  return [[...CSV_HEADERS], ...lines].map((l) => `${l.map(csvCell).join(',')}\r\n`).join('')
}

/**
 * One CSV cell: quoted when it holds a comma, quote or line break; a leading = + - @ tab or
 * CR gets an apostrophe, so a spreadsheet never runs an EHR's notes as a formula (OWASP "CSV
 * injection"). The CLI's client/format/csv.ts does the same; the browser bundle keeps its own
 * copy because node/ does not import from client/.
 */
export function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}
