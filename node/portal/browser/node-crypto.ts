import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'

/*
 * The node:crypto functions the verification path reaches, for the browser bundle: esbuild
 * aliases `node:crypto` to this file. SHA-256 (core/merkle/hash.ts) and the Ed25519 check of
 * signed tree heads (core/tree-head.ts), both from @noble. Anything else is not in the bundle.
 */

/** crypto.hash: SHA-256 only; the output encodings of Node's (default 'hex'). */
export function hash(algorithm: string, data: Uint8Array, outputEncoding = 'hex'): unknown {
  if (algorithm !== 'sha256') throw new Error(`hash ${algorithm} is not in the browser bundle`)
  const digest = sha256(data)
  if (outputEncoding === 'hex') return bytesToHex(digest)
  if (outputEncoding === 'buffer') return Buffer.from(digest)
  throw new Error(`hash output ${outputEncoding} is not in the browser bundle`)
}

/** What createPublicKey returns here: the raw 32-byte Ed25519 key. */
interface RawEd25519Key {
  raw: Uint8Array
}

// The DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410 section 4) ends with the raw key.
const SPKI_ED25519_PREFIX = '302a300506032b6570032100'

/** createPublicKey for an Ed25519 SPKI DER key, as core/tree-head.ts builds it. */
export function createPublicKey(input: { key: Uint8Array; format: string; type: string }) {
  const der = input.key
  if (
    input.format !== 'der' ||
    input.type !== 'spki' ||
    der.length !== 44 ||
    bytesToHex(der.subarray(0, 12)) !== SPKI_ED25519_PREFIX
  )
    throw new Error('only Ed25519 SPKI public keys are in the browser bundle')
  return { raw: new Uint8Array(der.subarray(12)) } satisfies RawEd25519Key
}

/**
 * crypto.verify(null, data, key, signature) for Ed25519: RFC 8032 section 5.1.7 verification
 * (zip215: false, as OpenSSL does it in Node: canonical encodings only).
 */
export function verify(
  algorithm: null,
  data: Uint8Array,
  key: RawEd25519Key,
  signature: Uint8Array,
): boolean {
  if (algorithm !== null) throw new Error('only Ed25519 verification is in the browser bundle')
  return ed25519.verify(signature, data, key.raw, { zip215: false })
}

/** Signing never happens in the browser: the page only verifies. */
export function sign(): never {
  throw new Error('signing is not in the browser bundle')
}

export function createPrivateKey(): never {
  throw new Error('private keys are not in the browser bundle')
}
