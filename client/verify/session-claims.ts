import type { QueryScope } from '../../node/core/trust/index.ts'
import type { SavedSession } from '../session-store.ts'

/*
 * What the saved session's token claims, read without verifying it: the node checks the
 * token; the client only uses the claims to narrow what it accepts and whom it asks first.
 */

function claimsOf(session: SavedSession): Record<string, unknown> {
  try {
    const claims = JSON.parse(
      Buffer.from(session.token.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as unknown
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** The scope the session's token claims: a patient's bound id, checked again on every entry. */
export function scopeOf(session: SavedSession): QueryScope {
  const { role, patientId } = claimsOf(session)
  return role === 'patient' && typeof patientId === 'string' ? { patientId } : {}
}

/** The node that issued the session: asked first. */
export function issuerOf(session: SavedSession): string | undefined {
  const { iss } = claimsOf(session)
  return typeof iss === 'string' ? iss : undefined
}
