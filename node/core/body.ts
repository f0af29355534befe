import { alertBodySchema } from './alert-body.ts'
import { homeOf, userRecordSchema } from './auth/user-record.ts'
import type { EntryKind } from './entry.ts'
import { EhrlogError } from './errors.ts'
import { auditEventSchema, eventError, isNormalEvent } from './event.ts'
import { parseStatsEntryBody } from './stats/stats-entry.ts'
import { membershipRecordSchema } from './trust/membership-record.ts'

/**
 * Checks an entry body received from another node against its kind's schema. An event body
 * must already be in normal form (what parseEvent would produce), so two replicas can never
 * hold differently-spelled copies of one event. Kinds other than 'event' carry records the
 * network keeps itself (users, alerts); their schemas are checked by their own modules.
 */
export function verifyEntryBody(kind: EntryKind, body: unknown, origin?: string): void {
  if (kind === 'user') {
    const parsed = userRecordSchema.safeParse(body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new EhrlogError(
        'ENTRY_INVALID',
        `entry.body of a user record: ${issue?.path.join('.') || 'body'} ${issue?.message ?? 'is invalid'}`,
        {
          details: { field: `entry.body.${issue?.path.join('.') ?? ''}` },
        },
      )
    }
    // Only a user's home node writes records about it (usernames are name@home). The end of a
    // session is the exception: the node where the user logged out records it (at worst a
    // member could end someone's session: a logout, never a login).
    const subject = 'username' in parsed.data ? parsed.data.username : parsed.data.by
    if (origin !== undefined && parsed.data.op !== 'end-session' && homeOf(subject) !== origin) {
      throw new EhrlogError(
        'ENTRY_INVALID',
        `a user record about ${subject} in the feed of ${origin}: only its home node writes those`,
        {
          details: { field: 'entry.body.username' },
        },
      )
    }
    return
  }
  if (kind === 'alert') {
    // Strict and without transforms: a body that parses is already in normal form.
    const parsed = alertBodySchema.safeParse(body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new EhrlogError(
        'ENTRY_INVALID',
        `entry.body of an alert: ${issue?.path.join('.') || 'body'} ${issue?.message ?? 'is invalid'}`,
        {
          details: { field: `entry.body.${issue?.path.join('.') ?? ''}` },
        },
      )
    }
    return
  }
  if (kind === 'stats') {
    parseStatsEntryBody(body)
    return
  }
  if (kind === 'membership') {
    // Strict and without transforms, like alerts (trust/membership-record.ts).
    const parsed = membershipRecordSchema.safeParse(body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new EhrlogError(
        'ENTRY_INVALID',
        `entry.body of a membership record: ${issue?.path.join('.') || 'body'} ${issue?.message ?? 'is invalid'}`,
        { details: { field: `entry.body.${issue?.path.join('.') ?? ''}` } },
      )
    }
    return
  }
  if (kind !== 'event' || isNormalEvent(body)) return
  const parsed = auditEventSchema.safeParse(body)
  if (!parsed.success) throw eventError(parsed.error, 'entry.body')
  if (!isSameFlatRecord(parsed.data, body)) {
    throw new EhrlogError('ENTRY_INVALID', 'entry.body is not in normal form (trimmed, UTC time)', {
      details: { field: 'entry.body' },
    })
  }
}

/**
 * Whether a parsed event equals the body it came from, key for key: events are flat records
 * of strings, so this is canonicalJson(a) === canonicalJson(b) without encoding either
 * (two encodings per replicated entry showed in profiles).
 */
function isSameFlatRecord(parsed: Record<string, unknown>, body: unknown): boolean {
  const raw = body as Record<string, unknown>
  let count = 0
  for (const key in parsed) {
    const value = parsed[key]
    if (value === undefined) continue
    if (raw[key] !== value) return false
    count++
  }
  return Object.keys(raw).length === count
}
