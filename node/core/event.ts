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

export const LIMITS = {
  idLength: 128,
  nameLength: 200,
  notesLength: 2000,
  /** An ATNA sender's original message, base64: 16 KiB of bytes (docs/atna.md). */
  originalLength: 21848,
} as const

// No control characters: they would break the table output and the seed's CSV columns.
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * Entries are RFC 8785 JSON, which is defined on I-JSON (RFC 7493 §2.1): strings must not
 * hold lone surrogates (no UTF-8 spelling: the entry bytes would not round-trip) or Unicode
 * noncharacters (U+FDD0–U+FDEF and U+xFFFE, U+xFFFF of every plane). In `u` mode a
 * surrogate pair is one code point, so only unpaired halves match \p{Surrogate}.
 */
const NOT_I_JSON = /[\p{Surrogate}\p{Noncharacter_Code_Point}]/u

/** Whether `s` is a string I-JSON allows (RFC 7493 §2.1): no lone surrogate, no noncharacter. */
export function isIJsonText(s: string): boolean {
  return !NOT_I_JSON.test(s)
}

// Both rules in one pass, for isNormalEvent's hot path.
const CONTROL_OR_NOT_I_JSON = /[\u0000-\u001f\u007f\p{Surrogate}\p{Noncharacter_Code_Point}]/u

function text(max: number) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters')
    .refine(
      isIJsonText,
      'must not contain lone surrogates or Unicode noncharacters (I-JSON, RFC 7493 §2.1)',
    )
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

const SHA256_HEX = /^[0-9a-f]{64}$/

/** Only the 64 symbols, then at most two `=`. */
const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/

const BASE64_VALUES = (() => {
  const values = new Int8Array(128).fill(-1)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  for (let i = 0; i < 64; i++) values[alphabet.charCodeAt(i)] = i
  return values
})()

/**
 * Non-empty base64 whose decoding encodes back to the same text: one spelling per byte string
 * (RFC 4648 §4, padded). That is exactly: only the 64 symbols, then at most two `=`, a length
 * that is a multiple of 4, and the bits the last symbol carries past the data all zero (4 of
 * them before `==`, 2 before `=`): RFC 4648 §3.5's canonical encoding. Checked without
 * decoding (an ATNA message's original is ~1 KiB, checked by every node): the same answer as
 * Buffer.from(s, 'base64').toString('base64') === s (property-tested in
 * test/core/event-original.test.ts).
 */
export function isCanonicalBase64(s: string): boolean {
  const n = s.length
  // The symbols and padding in one native regex scan: ~1/4 less time than a charCodeAt loop.
  if (n === 0 || n % 4 !== 0 || !BASE64_SHAPE.test(s)) return false
  let pad = 0
  if (s.charCodeAt(n - 1) === 0x3d) pad = s.charCodeAt(n - 2) === 0x3d ? 2 : 1
  const symbols = n - pad
  if (pad === 0) return true
  // The last symbol's bits past the data: 4 (one byte in the last group) or 2 (two bytes).
  const last = BASE64_VALUES[s.charCodeAt(symbols - 1)]!
  return (last & (pad === 2 ? 0x0f : 0x03)) === 0
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
  /** The sender's own id for the system that recorded it (ATNA AuditSourceID). */
  source: text(LIMITS.idLength).optional(),
  /** SHA-256 of the original message as received (ATNA ingest), 64 lower-case hex digits. */
  originalSha256: z
    .string()
    .regex(SHA256_HEX, 'must be 64 lower-case hex digits (SHA-256)')
    .optional(),
  /** The original message's bytes, canonical base64 (RFC 4648 §4, padded). */
  original: z
    .string()
    .max(LIMITS.originalLength, `must be at most ${LIMITS.originalLength} characters`)
    .refine(isCanonicalBase64, 'must be canonical padded base64 (RFC 4648 §4)')
    .optional(),
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

/** Each field's length limit; required fields are those normal form always has. */
const TEXT_FIELDS: ReadonlyMap<string, number> = new Map([
  ['patientId', LIMITS.idLength],
  ['patientName', LIMITS.nameLength],
  ['actorId', LIMITS.idLength],
  ['actorName', LIMITS.nameLength],
  ['detail', LIMITS.nameLength],
  ['resource', LIMITS.idLength],
  ['resourceId', LIMITS.idLength],
  ['notes', LIMITS.notesLength],
  ['source', LIMITS.idLength],
])
const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS)
const OUTCOME_SET: ReadonlySet<string> = new Set(OUTCOMES)

/**
 * Whether `value` is an event already in normal form: what auditEventSchema would accept
 * and give back unchanged (every string trimmed, the time as toISOString writes it, outcome
 * present). It answers in about a tenth of the schema's time, without allocating, for the
 * hot paths that see events some node already normalized (replicated entries). True only
 * when the schema agrees (property-tested in test/core/event.test.ts); false sends the
 * caller to the schema, which names what is wrong or normalizes.
 */
export function isNormalEvent(value: unknown): value is AuditEvent {
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return false
  const event = value as Record<string, unknown>
  let count = 0
  for (const key in event) {
    const v = event[key]
    if (typeof v !== 'string') return false
    count++
    const max = TEXT_FIELDS.get(key)
    if (max !== undefined) {
      if (v.length === 0 || v.length > max || CONTROL_OR_NOT_I_JSON.test(v) || v.trim() !== v)
        return false
    } else if (key === 'action') {
      if (!ACTION_SET.has(v)) return false
    } else if (key === 'outcome') {
      if (!OUTCOME_SET.has(v)) return false
    } else if (key === 'originalSha256') {
      if (!SHA256_HEX.test(v)) return false
    } else if (key === 'original') {
      if (v.length > LIMITS.originalLength || !isCanonicalBase64(v)) return false
    } else if (key === 'time') {
      if (!isNormalTime(v)) return false
    } else return false
  }
  // for-in also walks inherited enumerable keys; a plain object's own keys are all of them.
  return (
    count === Object.keys(event).length &&
    typeof event.patientId === 'string' &&
    typeof event.actorId === 'string' &&
    typeof event.action === 'string' &&
    typeof event.resource === 'string' &&
    typeof event.time === 'string' &&
    typeof event.outcome === 'string'
  )
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** The value of the `count` decimal digits at s[at..], or -1 if any is not a digit. */
function digits(s: string, at: number, count: number): number {
  let n = 0
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 0x30
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * Whether `time` is what toISOString writes for a time from 1970 to 9999, i.e. the same as
 * `new Date(Date.parse(time)).toISOString() === time` with that range, read off the fixed
 * layout `YYYY-MM-DDTHH:MM:SS.mmmZ` without making a Date or a string (isNormalEvent runs
 * this for every replicated event). Property-tested against the round trip in
 * test/core/event-time.test.ts.
 */
export function isNormalTime(time: string): boolean {
  // Four digits of year: before 10000, the largest time an index holds (docs/storage.md).
  if (
    time.length !== 24 ||
    time.charCodeAt(4) !== 0x2d || // -
    time.charCodeAt(7) !== 0x2d ||
    time.charCodeAt(10) !== 0x54 || // T
    time.charCodeAt(13) !== 0x3a || // :
    time.charCodeAt(16) !== 0x3a ||
    time.charCodeAt(19) !== 0x2e || // .
    time.charCodeAt(23) !== 0x5a // Z
  )
    return false
  const year = digits(time, 0, 4)
  const month = digits(time, 5, 2)
  const day = digits(time, 8, 2)
  if (year < 1970 || month < 1 || month > 12 || day < 1) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  if (day > DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0)) return false
  const hour = digits(time, 11, 2)
  const minute = digits(time, 14, 2)
  const second = digits(time, 17, 2)
  return (
    hour >= 0 &&
    hour < 24 &&
    minute >= 0 &&
    minute < 60 &&
    second >= 0 &&
    second < 60 &&
    digits(time, 20, 3) >= 0
  )
}

/**
 * `time` in normal form (toISOString) when the schema accepts it (ISO 8601 with a time zone, a
 * real date, 1970–9999), else `time` unchanged, for the schema to refuse with its reason.
 * A producer of events (the ATNA mapping) normalizes its time first, so that an otherwise
 * normal event takes parseEvent's fast path: the schema's time check runs either way.
 */
export function normalTime(time: string): string {
  const result = isoTime.safeParse(time)
  return result.success ? result.data : time
}

/** Validates untrusted input into an AuditEvent, or throws EVENT_INVALID naming the field. */
export function parseEvent(input: unknown, where = 'event'): AuditEvent {
  // A copy, as the schema would give: the caller's object stays its own.
  if (isNormalEvent(input)) return { ...input }
  const result = auditEventSchema.safeParse(input)
  if (!result.success) throw eventError(result.error, where)
  return result.data
}
