import { ed25519 } from '@noble/curves/ed25519.js'
import { scrypt } from '@noble/hashes/scrypt.js'
import { EhrlogError } from '../errors.ts'
import { fromHex, toHex } from '../hex.ts'
import { TAGS } from '../layout.ts'

/**
 * Password → Ed25519 login key, on the user's device (CLI or browser): scrypt (RFC 7914)
 * with a per-user random salt, then the 32 bytes are an Ed25519 seed. The node stores only the
 * public key and these parameters; neither the password nor anything that checks it without
 * the scrypt work ever leaves the device. noble's scrypt runs in Node and browsers alike.
 */
export interface KdfParams {
  name: 'scrypt'
  /** 16 random bytes, hex. */
  salt: string
  N: number
  r: number
  p: number
}

export const DEFAULT_KDF = { N: 2 ** 15, r: 8, p: 1 } as const
/** Bounds on parameters read from user records (a hostile record must not hang a client). */
const LIMITS = { minN: 2 ** 10, maxN: 2 ** 20, maxR: 16, maxP: 4 } as const

export function newKdfParams(cost: { N: number; r: number; p: number } = DEFAULT_KDF): KdfParams {
  const salt = new Uint8Array(16)
  globalThis.crypto.getRandomValues(salt)
  return { name: 'scrypt', salt: toHex(salt), ...cost }
}

export function checkKdfParams(params: KdfParams): void {
  const { N, r, p } = params
  const salt = fromHex(params.salt)
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0
  if (
    params.name !== 'scrypt' ||
    !salt ||
    salt.byteLength < 16 ||
    !powerOfTwo ||
    N < LIMITS.minN ||
    N > LIMITS.maxN ||
    !(r >= 1 && r <= LIMITS.maxR) ||
    !(p >= 1 && p <= LIMITS.maxP)
  ) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `login key parameters out of bounds: want scrypt, salt >= 16 bytes, N a power of 2 in [2^10, 2^20], r <= 16, p <= 4`,
      { details: { field: 'kdf' } },
    )
  }
}

export interface LoginKey {
  seed: Uint8Array
  publicKey: Uint8Array
}

/** The login key of `username` (user@home) for `password` under `params`. NFC-normalized. */
export function deriveLoginKey(username: string, password: string, params: KdfParams): LoginKey {
  checkKdfParams(params)
  const input = new TextEncoder().encode(
    `${TAGS.passwordKey}\0${username}\0${password.normalize('NFC')}`,
  )
  const seed = scrypt(input, fromHex(params.salt)!, {
    N: params.N,
    r: params.r,
    p: params.p,
    dkLen: 32,
  })
  return { seed, publicKey: ed25519.getPublicKey(seed) }
}

/** Signs a login challenge message (layout.ts loginMessage) with the login key. */
export function signLoginChallenge(key: LoginKey, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, key.seed)
}

export function isLoginSignatureValid(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return signature.byteLength === 64 && ed25519.verify(signature, message, publicKey)
  } catch {
    return false
  }
}
