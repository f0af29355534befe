import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { EhrlogError } from './errors.ts'
import { bytesEqual, toHex } from './hex.ts'
import { treeHeadMessage } from './layout.ts'

/** A feed's state at a size, signed by its origin with Ed25519 (docs/format.md). */
export interface SignedTreeHead {
  origin: string
  treeSize: number
  root: Uint8Array
  signature: Uint8Array
}

// DER prefixes that wrap a raw 32-byte Ed25519 key (RFC 8410) for node:crypto.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

const publicKeyCache = new Map<string, KeyObject>()

/** node:crypto public key from 32 raw bytes; cached, since a feed is checked many times. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) {
    throw new EhrlogError(
      'KEY_FILE_INVALID',
      `Ed25519 public key has ${raw.byteLength} bytes, want 32`,
    )
  }
  const hex = toHex(raw)
  let key = publicKeyCache.get(hex)
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
    if (publicKeyCache.size > 10_000) publicKeyCache.clear()
    publicKeyCache.set(hex, key)
  }
  return key
}

/** node:crypto private key from a 32-byte Ed25519 seed. */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== 32) {
    throw new EhrlogError('KEY_FILE_INVALID', `Ed25519 seed has ${seed.byteLength} bytes, want 32`)
  }
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  })
}

/** The raw 32-byte public key of a private key. */
export function ed25519RawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - 32))
}

/**
 * Ed25519 (RFC 8032 §5.1, pure: no prehash, no context) over `message`: 64 bytes. The one
 * signing call behind every tree head; checked against RFC 8032 §7.1 in test/core/tree-head.test.ts.
 */
export function signEd25519(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey))
}

/**
 * Whether `signature` is `publicKey`'s (32 raw bytes) RFC 8032 Ed25519 signature of `message`.
 * False for a signature that is not 64 bytes. The one verifying call behind every tree head.
 */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.byteLength !== 64) return false
  return verify(null, message, ed25519PublicKey(publicKey), signature)
}

/** Signs the feed's tree head: Ed25519 over treeHeadMessage (docs/format.md). */
export function signTreeHead(
  privateKey: KeyObject,
  origin: string,
  treeSize: number,
  root: Uint8Array,
): SignedTreeHead {
  const signature = signEd25519(privateKey, treeHeadMessage(origin, treeSize, root))
  return { origin, treeSize, root, signature }
}

/** Whether `head` carries its origin's signature over treeHeadMessage(origin, treeSize, root). */
export function isTreeHeadSignatureValid(head: SignedTreeHead, publicKey: Uint8Array): boolean {
  return verifyEd25519(
    publicKey,
    treeHeadMessage(head.origin, head.treeSize, head.root),
    head.signature,
  )
}

/** Throws INVALID_SIGNATURE unless `head` is signed by `publicKey`. */
export function verifyTreeHead(head: SignedTreeHead, publicKey: Uint8Array): void {
  if (!isTreeHeadSignatureValid(head, publicKey)) {
    throw new EhrlogError(
      'INVALID_SIGNATURE',
      `tree head of ${head.origin} at size ${head.treeSize} is not signed by its origin's key`,
      { details: { origin: head.origin, treeSize: head.treeSize, root: toHex(head.root) } },
    )
  }
}

export function sameTreeHead(a: SignedTreeHead, b: SignedTreeHead): boolean {
  return a.origin === b.origin && a.treeSize === b.treeSize && bytesEqual(a.root, b.root)
}
