import { verifyEntryBody } from './body.ts'
import type { Entry } from './entry.ts'
import { auditEventSchema } from './event.ts'

/*
 * Which entry kinds a query selects (docs/query.md "Kinds"). Audit events by default; an
 * auditor or admin asks for `user` records, `alert` records, or `all` to check a feed's hash
 * chain without gaps. Patients are scoped to events about themselves: user and alert records
 * name no patient, so a patient scope never matches them.
 */

export const KIND_FILTERS = ['event', 'user', 'alert', 'membership', 'all'] as const
export type KindFilter = (typeof KIND_FILTERS)[number]

/** Filter fields that only an audit event has: set, they leave user and alert records out. */
const EVENT_FIELDS = ['patient', 'actor', 'action', 'resource', 'from', 'to'] as const

export function isKindFilter(text: string): text is KindFilter {
  return (KIND_FILTERS as readonly string[]).includes(text)
}

/**
 * Why `entry`'s kind is outside the filter (and scope), or undefined when its kind is
 * selected. For a user or alert record that is selected, undefined means it matches whole:
 * only `origin` applies to it, and any event-only field or a patient scope rules it out.
 */
export function kindMismatch(
  entry: Pick<Entry, 'kind' | 'origin'>,
  filter: { kind?: KindFilter; origin?: string } & Partial<
    Record<(typeof EVENT_FIELDS)[number], string>
  >,
  scope: { patientId?: string },
): string | undefined {
  const wanted = filter.kind ?? 'event'
  if (wanted !== 'all' && entry.kind !== wanted)
    return `is a ${entry.kind} record, the filter asks for kind ${wanted}`
  if (entry.kind === 'event') return undefined
  if (scope.patientId !== undefined) return `is a ${entry.kind} record: a patient sees events only`
  const field = EVENT_FIELDS.find((f) => filter[f] !== undefined)
  if (field) return `is a ${entry.kind} record, which has no ${field} to match the filter`
  if (filter.origin !== undefined && entry.origin !== filter.origin)
    return `comes from ${entry.origin}, the filter asks for ${filter.origin}`
  return undefined
}

/** Why an entry's body is invalid for its kind (events: an audit event; others: their schema). */
export function bodyProblem(entry: Pick<Entry, 'kind' | 'body' | 'origin'>): string | undefined {
  if (entry.kind === 'event')
    return auditEventSchema.safeParse(entry.body).success
      ? undefined
      : 'body is not a valid audit event'
  try {
    verifyEntryBody(entry.kind, entry.body, entry.origin)
    return undefined
  } catch (err) {
    return `body is not a valid ${entry.kind} record: ${(err as Error).message}`
  }
}
