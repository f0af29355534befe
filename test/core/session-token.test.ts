import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import {
  encodeSessionToken,
  type SessionClaims,
  verifySessionToken,
} from '../../node/core/auth/session-token.ts'

const secret = ed25519.utils.randomSecretKey()
const publicKey = ed25519.getPublicKey(secret)
const keys = (node: string) => (node === 'hospital-c' ? publicKey : undefined)
const now = 1_700_000_000_000
const claims: SessionClaims = {
  v: 1,
  sub: 'anish@hospital-c',
  role: 'patient',
  iss: 'hospital-c',
  sid: '00112233445566778899aabbccddeeff',
  iat: now,
  exp: now + 3600_000,
}
const mint = (c: SessionClaims) => encodeSessionToken(c, (m) => ed25519.sign(m, secret))

describe('session tokens (docs/auth.md)', () => {
  it('a token of the home node verifies', () => {
    expect(verifySessionToken(mint(claims), keys, now).sub).toBe('anish@hospital-c')
  })

  it('one encoding per token: base64 `+` `/`, padding or non-zero trailing bits are refused', () => {
    const token = mint(claims)
    const [body, signature] = token.split('.') as [string, string]
    const std = (s: string) => s.replaceAll('-', '+').replaceAll('_', '/')
    const variants = [
      `${std(body)}.${std(signature)}`,
      `${body}.${signature}==`,
      `${body}=.${signature}`,
    ]
    // The signature is 64 bytes: 86 characters, whose last one carries 4 unused bits.
    const last = signature.at(-1)!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const sameBytes = alphabet[alphabet.indexOf(last) ^ 1]!
    variants.push(`${body}.${signature.slice(0, -1)}${sameBytes}`)
    // Buffer's lenient decoder reads every variant as the same bytes; the strict one does not.
    expect(Buffer.from(std(signature), 'base64url')).toEqual(Buffer.from(signature, 'base64url'))
    for (const v of variants) {
      if (v === token) continue
      expect(() => verifySessionToken(v, keys, now), v).toThrow(
        expect.objectContaining({ code: 'UNAUTHORIZED' }),
      )
    }
  })

  it("a token naming another node than the account's home as issuer is refused", () => {
    const other = { ...claims, iss: 'hospital-a' }
    const token = encodeSessionToken(other, (m) => ed25519.sign(m, secret))
    expect(() => verifySessionToken(token, () => publicKey, now)).toThrow(
      expect.objectContaining({
        code: 'UNAUTHORIZED',
        details: expect.objectContaining({ reason: 'wrong-issuer' }),
      }),
    )
  })
})
