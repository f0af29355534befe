import type { UserStatus } from '../auth/index.ts'
import type { SessionClaims } from '../core/auth/session-token.ts'
import { EhrlogError } from '../core/errors.ts'
import type { QueryFilter, QueryScope } from '../core/trust/index.ts'

/** A session as AuthService.authenticate returns it: the claims, the role read afresh, the status. */
export type Session = SessionClaims & { status: UserStatus }

/** Why a session may not query: `details.reason` of the FORBIDDEN error (docs/query.md). */
export type RefusalReason = 'pending' | 'unbound' | 'other-patient'

/** The filter a session may run, its scope, and the patient whose trail it looks at. */
export interface ScopedQuery {
  filter: QueryFilter
  scope: QueryScope
  /** patientId of the query's own audit event: the trail looked at, or '*' for many. */
  subject: string
}

/** A refusal that is still recorded as an audit event (outcome failure). */
export class QueryRefused extends EhrlogError {
  readonly subject: string

  constructor(reason: RefusalReason, message: string, subject: string) {
    super('FORBIDDEN', message, { details: { field: 'session', reason } })
    this.subject = subject
  }
}

/**
 * Applies the session's scope to a filter. Patients see only their bound patient id: naming
 * another is refused (403, not an empty answer, which would read as "nobody looked"). An
 * unbound patient and a pending auditor or admin see nothing. Active auditors and admins
 * see everything. Revoked or ended sessions never get here (AuthService: 401).
 */
export function scopeQuery(session: Session, filter: QueryFilter): ScopedQuery {
  if (session.role === 'patient') {
    const bound = session.patientId
    if (bound === undefined)
      throw new QueryRefused(
        'unbound',
        'this patient account is not bound to a patient id yet: enter the enrollment code your hospital gave you (portal home page, or `ehrlog user bind --code CODE`)',
        filter.patient ?? '*',
      )
    if (filter.patient !== undefined && filter.patient !== bound)
      throw new QueryRefused(
        'other-patient',
        "a patient session can only query its own patient's trail",
        filter.patient,
      )
    return { filter: { ...filter, patient: bound }, scope: { patientId: bound }, subject: bound }
  }
  if (session.status !== 'active')
    throw new QueryRefused(
      'pending',
      `the ${session.role} account ${session.sub} is waiting for an admin's approval: it can query once approved`,
      filter.patient ?? '*',
    )
  return { filter, scope: {}, subject: filter.patient ?? '*' }
}
