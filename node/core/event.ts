import { z } from 'zod'
import { EhrlogError } from './errors.ts'

/**
 * An audit event: what the EHR reports. It covers every column of the prototype's logs
 * table: LOG_ID is the entry id, USER_NAME patientName, USER_ID patientId, AUDITOR_ID
 * actorId, ACTION_TYPE action (+ detail), TABLE AFFECTED resource, TIMESTAMP time, NOTES notes.
 */
export const ACTIONS = [
  'create',
  'read',
  'update',
  'delete',
  'print',
  'export',
  'login',
  'logout',
  'query',
  'other',
] as const
export type Action = (typeof ACTIONS)[number]

export const OUTCOMES = ['success', 'failure'] as const
export type Outcome = (typeof OUTCOMES)[number]

export const LIMITS = { idLength: 128, nameLength: 200, notesLength: 2000 } as const

// No control characters: they would break the table output and the seed's CSV columns.
const CONTROL = /[\u0000-\u001f\u007f]/

function text(max: number) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters')
}

/** Date.parse rolls 2023-02-30 over to March; a real date survives the round trip. */
function isRealDate(s: string): boolean {
  const [y, m, d] = s.slice(0, 10).split('-').map(Number) as [number, number, number]
  const day = new Date(Date.UTC(y, m - 1, d))
  const hour = Number(s.slice(11, 13))
  const minute = Number(s.slice(14, 16))
  return (
    !Number.isNaN(Date.parse(s)) &&
    day.getUTCFullYear() === y &&
    day.getUTCMonth() === m - 1 &&
    day.getUTCDate() === d &&
    hour < 24 &&
    minute < 60
  )
}

const isoTime = z
  .string()
  .refine(
    (s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(s),
    {
      message: 'must be an ISO 8601 date-time with a time zone, e.g. 2023-12-04T19:22:00Z',
    },
  )
  .refine(isRealDate, 'is not a real date')
  // Times are indexed as unsigned milliseconds since 1970 (docs/storage.md).
  .refine(
    (s) => Date.parse(s) >= 0 && Date.parse(s) < Date.UTC(10000, 0),
    'must be between 1970 and 9999',
  )
  .transform((s) => new Date(s).toISOString())

export const auditEventSchema = z.strictObject({
  patientId: text(LIMITS.idLength),
  patientName: text(LIMITS.nameLength).optional(),
  actorId: text(LIMITS.idLength),
  actorName: text(LIMITS.nameLength).optional(),
  action: z.enum(ACTIONS, { message: `must be one of ${ACTIONS.join(', ')}` }),
  detail: text(LIMITS.nameLength).optional(),
  resource: text(LIMITS.idLength),
  resourceId: text(LIMITS.idLength).optional(),
  time: isoTime,
  outcome: z
    .enum(OUTCOMES, { message: `must be one of ${OUTCOMES.join(', ')}` })
    .default('success'),
  notes: text(LIMITS.notesLength).optional(),
})

/** An event after validation: trimmed strings, time normalized to UTC milliseconds. */
export type AuditEvent = z.output<typeof auditEventSchema>
/** An event as a client may send it (outcome optional, any ISO time zone). */
export type AuditEventInput = z.input<typeof auditEventSchema>

/** Turns a zod failure into EVENT_INVALID naming the first bad field (all in details.issues). */
export function eventError(err: z.ZodError, where = 'event'): EhrlogError {
  const issues = err.issues.map((i) => ({
    field: [where, ...i.path.map(String)].join('.'),
    problem: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message,
  }))
  const first = issues[0] ?? { field: where, problem: 'is invalid' }
  return new EhrlogError('EVENT_INVALID', `${first.field} ${first.problem}`, {
    details: { field: first.field, issues },
  })
}

/** Validates untrusted input into an AuditEvent, or throws EVENT_INVALID naming the field. */
export function parseEvent(input: unknown, where = 'event'): AuditEvent {
  const result = auditEventSchema.safeParse(input)
  if (!result.success) throw eventError(result.error, where)
  return result.data
}
