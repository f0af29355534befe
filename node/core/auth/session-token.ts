import { ed25519 } from '@noble/curves/ed25519.js'
import { canonicalJson } from '../canonical-json.ts'
import { EhrlogError } from '../errors.ts'
import { sessionMessage } from '../layout.ts'

export type Role = 'patient' | 'auditor' | 'admin'

/**
 * A session: signed by the node that checked the login (its Ed25519 key from network.json),
 * so every node accepts it; revoked network-wide by an end-session record in the issuer's feed.
 */
export interface SessionClaims {
  v: 1
  /** user@home */
  sub: string
  role: Role
  /** Only for patients: the one patient id whose trail they may see. */
  patientId?: string
  /** The issuing node. */
  iss: string
  /** Session id (random, hex): what logout revokes. */
  sid: string
  iat: number
  exp: number
}

const utf8 = new TextEncoder()

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

/** `base64url(claims JSON).base64url(signature)`; `sign` is the issuer's Ed25519 signer. */
export function encodeSessionToken(
  claims: SessionClaims,
  sign: (message: Uint8Array) => Uint8Array,
): string {
  const json = utf8.encode(canonicalJson(claims))
  return `${b64url(json)}.${b64url(sign(sessionMessage(json)))}`
}

function unauthorized(message: string): EhrlogError {
  return new EhrlogError('UNAUTHORIZED', message, { details: { field: 'session' } })
}

/**
 * Checks a token: well formed, signed by its issuer (`issuerKey` looks up the member's
 * Ed25519 key), not expired. Throws UNAUTHORIZED saying which. Revocation is the caller's.
 */
export function verifySessionToken(
  token: string,
  issuerKey: (node: string) => Uint8Array | undefined,
  nowMs: number,
): SessionClaims {
  const parts = token.split('.')
  if (parts.length !== 2 || token.length > 4096) throw unauthorized('session token is malformed')
  let claims: SessionClaims
  let json: Uint8Array
  try {
    json = new Uint8Array(Buffer.from(parts[0]!, 'base64url'))
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) as SessionClaims
  } catch {
    throw unauthorized('session token is malformed')
  }
  if (
    claims?.v !== 1 ||
    typeof claims.sub !== 'string' ||
    typeof claims.iss !== 'string' ||
    typeof claims.sid !== 'string' ||
    !Number.isSafeInteger(claims.exp)
  ) {
    throw unauthorized('session token is malformed')
  }
  if (canonicalJson(claims) !== new TextDecoder().decode(json))
    throw unauthorized('session token is not in canonical form')
  const key = issuerKey(claims.iss)
  const signature = new Uint8Array(Buffer.from(parts[1]!, 'base64url'))
  let valid = false
  try {
    valid =
      !!key && signature.byteLength === 64 && ed25519.verify(signature, sessionMessage(json), key)
  } catch {
    valid = false
  }
  if (!valid) throw unauthorized(`session token is not signed by ${claims.iss}`)
  if (claims.exp <= nowMs)
    throw new EhrlogError('UNAUTHORIZED', 'session expired: log in again', {
      details: { field: 'session', reason: 'expired' },
    })
  return claims
}
