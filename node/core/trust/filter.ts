import type { EncodedEntry } from '../entry.ts'
import { isKindFilter, KIND_FILTERS, type KindFilter, kindMismatch } from '../entry-kinds.ts'
import { EhrlogError } from '../errors.ts'
import { ACTIONS, type AuditEvent, auditEventSchema, OUTCOMES } from '../event.ts'
import { ORIGIN_PATTERN } from '../layout.ts'

/** What a query selects; every field optional, all given fields must match. Times: event time. */
export interface QueryFilter {
  patient?: string
  actor?: string
  /** One action, or several joined by commas (sorted, no repeats): any of them matches. */
  action?: string
  resource?: string
  /** ISO 8601 UTC, inclusive. */
  from?: string
  /** ISO 8601 UTC, exclusive. */
  to?: string
  origin?: string
  /** Entry kinds: `event` when absent (entry-kinds.ts). */
  kind?: KindFilter
  /** `success` or `failure` (FHIR search `outcome`). */
  outcome?: string
}

/** What the session may see, enforced by the node and checked again by the client. */
export interface QueryScope {
  /** A patient session: only this patient's entries. */
  patientId?: string
}

export const QUERY_LIMITS = { defaultLimit: 100, maxLimit: 1000, textLength: 128 } as const
const FILTER_FIELDS = [
  'patient',
  'actor',
  'action',
  'resource',
  'from',
  'to',
  'origin',
  'kind',
  'outcome',
] as const

/** ARGUMENT_INVALID naming the field: the query's edge errors (filter and cursor). */
export function argumentError(field: string, message: string): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `${field} ${message}`, { details: { field } })
}

/**
 * Parses an untrusted filter (HTTP query string, libp2p request, CLI flags) into a QueryFilter:
 * unknown fields, empty or over-long text, control characters, an unknown action, a time
 * without a zone or from >= to are ARGUMENT_INVALID naming the field. Times are normalized
 * to UTC milliseconds like event times, so both sides compare the same strings.
 */
export function parseQueryFilter(input: unknown): QueryFilter {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw argumentError('filter', 'is not an object')
  const out: QueryFilter = {}
  for (const [field, value] of Object.entries(input)) {
    if (value === undefined) continue
    if (!(FILTER_FIELDS as readonly string[]).includes(field))
      throw argumentError(field, `is not a filter: want one of ${FILTER_FIELDS.join(', ')}`)
    if (typeof value !== 'string') throw argumentError(field, 'must be a string')
    const text = value.trim()
    if (text === '' || text.length > QUERY_LIMITS.textLength || /[\u0000-\u001f\u007f]/.test(text))
      throw argumentError(
        field,
        `must be 1 to ${QUERY_LIMITS.textLength} characters without controls`,
      )
    const key = field as keyof QueryFilter
    if (
      key === 'action' &&
      !text.split(',').every((a) => (ACTIONS as readonly string[]).includes(a))
    )
      throw argumentError(field, `must be one or more of ${ACTIONS.join(', ')}, joined by commas`)
    if (key === 'outcome' && !(OUTCOMES as readonly string[]).includes(text))
      throw argumentError(field, `must be one of ${OUTCOMES.join(', ')}`)
    if (key === 'origin' && !ORIGIN_PATTERN.test(text))
      throw argumentError(field, 'is not a node name')
    if (key === 'kind' && !isKindFilter(text))
      throw argumentError(field, `must be one of ${KIND_FILTERS.join(', ')}`)
    if (key === 'kind') out.kind = text as KindFilter
    else if (key === 'action') out.action = [...new Set(text.split(','))].sort().join(',')
    else if (key === 'from' || key === 'to') {
      const time = auditEventSchema.shape.time.safeParse(text)
      if (!time.success)
        throw argumentError(field, time.error.issues[0]?.message ?? 'is not a time')
      out[key] = time.data
    } else out[key] = text
  }
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to)
    throw argumentError('to', `must be after from (${out.from})`)
  return out
}

/** Why `entry` is outside filter and scope, or undefined if it matches. */
export function filterMismatch(
  entry: EncodedEntry['entry'],
  filter: QueryFilter,
  scope: QueryScope = {},
): string | undefined {
  const kind = kindMismatch(entry, filter, scope)
  if (kind !== undefined || entry.kind !== 'event') return kind
  const e = entry.body as AuditEvent
  if (scope.patientId !== undefined && e.patientId !== scope.patientId)
    return "is about another patient than the session's"
  if (filter.patient !== undefined && e.patientId !== filter.patient)
    return 'has another patientId than the filter'
  if (filter.actor !== undefined && e.actorId !== filter.actor)
    return 'has another actorId than the filter'
  if (filter.action !== undefined && !filter.action.split(',').includes(e.action))
    return `has action ${e.action}, the filter asks for ${filter.action}`
  if (filter.outcome !== undefined && e.outcome !== filter.outcome)
    return `has outcome ${e.outcome}, the filter asks for ${filter.outcome}`
  if (filter.resource !== undefined && e.resource !== filter.resource)
    return 'has another resource than the filter'
  if (filter.origin !== undefined && entry.origin !== filter.origin)
    return `comes from ${entry.origin}, the filter asks for ${filter.origin}`
  if (filter.from !== undefined && e.time < filter.from) return `has time ${e.time} before from`
  if (filter.to !== undefined && e.time >= filter.to) return `has time ${e.time} not before to`
  return undefined
}
