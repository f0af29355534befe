import { ed25519 } from '@noble/curves/ed25519.js'
import { canonicalJson } from '../canonical-json.ts'
import { EhrlogError } from '../errors.ts'
import { sessionMessage } from '../layout.ts'
import { homeOf, USERNAME_PATTERN } from './user-record.ts'

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

/** Strict base64url (RFC 4648 section 5, no padding): one encoding per token, never `+` or `/`. */
const BASE64URL = /^[A-Za-z0-9_-]*$/

function decodeBase64url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, 'base64url')
  // Trailing bits that are not zero would give a second spelling of the same bytes.
  return bytes.toString('base64url') === text ? new Uint8Array(bytes) : undefined
}

/**
 * Checks a token: well formed, issued by the account's home node (`iss` is the node after `@`
 * in `sub`: sign-in happens only there), signed by that node (`issuerKey` looks up the
 * member's Ed25519 key), not expired. Throws UNAUTHORIZED saying which. Revocation is the
 * caller's.
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
    const decoded = decodeBase64url(parts[0]!)
    if (!decoded) throw unauthorized('session token is not base64url')
    json = decoded
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) as SessionClaims
  } catch {
    throw unauthorized('session token is malformed')
  }
  if (
    claims?.v !== 1 ||
    typeof claims.sub !== 'string' ||
    !USERNAME_PATTERN.test(claims.sub) ||
    typeof claims.iss !== 'string' ||
    typeof claims.sid !== 'string' ||
    !Number.isSafeInteger(claims.exp)
  ) {
    throw unauthorized('session token is malformed')
  }
  if (canonicalJson(claims) !== new TextDecoder().decode(json))
    throw unauthorized('session token is not in canonical form')
  // Another member's key must not vouch for this node's accounts: a hospital's insider with
  // its key files could otherwise mint an admin session for any account of any hospital.
  if (claims.iss !== homeOf(claims.sub))
    throw new EhrlogError(
      'UNAUTHORIZED',
      `session for ${claims.sub} was issued by ${claims.iss}: only its home node ${homeOf(claims.sub)} issues its sessions`,
      { details: { field: 'session', reason: 'wrong-issuer' } },
    )
  const key = issuerKey(claims.iss)
  const signature = decodeBase64url(parts[1]!)
  let valid = false
  try {
    valid =
      !!key && signature?.byteLength === 64 && ed25519.verify(signature, sessionMessage(json), key)
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
