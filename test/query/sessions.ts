import { sign } from 'node:crypto'
import type { AuthService } from '../../node/auth/index.ts'
import {
  deriveLoginKey,
  newKdfParams,
  signLoginChallenge,
} from '../../node/core/auth/password-key.ts'
import { encodeSessionToken, type SessionClaims } from '../../node/core/auth/session-token.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import { openNodeDir } from '../../node/identity/index.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15

/** Registers an account programmatically (as `ehrlog register` would), returns its password. */
export async function register(
  auth: AuthService,
  username: string,
  role: 'patient' | 'auditor' | 'admin',
  enrollmentCode?: string,
): Promise<void> {
  const kdf = newKdfParams(FAST)
  const key = deriveLoginKey(username, `pw of ${username}`, kdf)
  const input = {
    username,
    name: username,
    role,
    publicKey: toHex(key.publicKey),
    kdf,
    ...(enrollmentCode ? { enrollmentCode } : {}),
  }
  if (role === 'admin') await auth.bootstrapAdmin(input)
  else await auth.register(input)
}

/** Logs in with the challenge–response, as `ehrlog login` does; returns the token and claims. */
export function login(
  auth: AuthService,
  username: string,
): { token: string; claims: SessionClaims } {
  const c = auth.challenge(username)
  const key = deriveLoginKey(username, `pw of ${username}`, c.kdf)
  const signature = signLoginChallenge(
    key,
    loginMessage(c.node, username, fromHex(c.nonce, 32)!, c.expiresMs),
  )
  return auth.login(username, c.nonce, toHex(signature), '127.0.0.1')
}

/** A token signed by the node of `dir` with the given claims (to make an expired session). */
export async function signedToken(dir: string, claims: SessionClaims): Promise<string> {
  const identity = await openNodeDir(dir)
  return encodeSessionToken(claims, (m) => new Uint8Array(sign(null, m, identity.signingKey)))
}
