import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js'
import { bls12_381, bls12_381_Fr } from '@noble/curves/bls12-381.js'
import { bytesToHex } from '@noble/curves/utils.js'
import { EhrlogError } from './errors.ts'
import { TAGS } from './layout.ts'

/**
 * BLS12-381 cosignatures, ciphersuite BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_
 * (draft-irtf-cfrg-bls-signature-05 §4.2.3): minimal-pubkey-size, so public keys are compressed G1
 * points (48 bytes) and signatures compressed G2 points (96 bytes). Same-message aggregation is
 * only safe against rogue keys because every member's key comes with a proof of possession
 * (membership rejects a key whose PoP does not verify). @noble/curves only: this file also runs
 * in the browser.
 */
export const BLS_SECRET_KEY_LENGTH = 32
export const BLS_PUBLIC_KEY_LENGTH = 48
export const BLS_SIGNATURE_LENGTH = 96

type G1Point = WeierstrassPoint<bigint>
type G2Point = ReturnType<typeof bls12_381.longSignatures.hash>

const bls = bls12_381.longSignatures

// Decoding a compressed G1 point costs a square root and a subgroup check; aggregating already
// decoded points is ~20x faster (docs/performance.md). Membership keys are few and reused every round,
// so cache them. Only points that passed validation are cached.
const PUBLIC_KEY_CACHE_LIMIT = 1024
const publicKeyCache = new Map<string, G1Point>()

/** A fresh secret key from the platform CSPRNG (globalThis.crypto), never zero. */
export function generateBlsSecretKey(): Uint8Array {
  return bls.keygen().secretKey
}

/** The 48-byte compressed G1 public key of a secret key. */
export function blsPublicKey(secretKey: Uint8Array): Uint8Array {
  checkSecretKey(secretKey)
  return bls.getPublicKey(secretKey).toBytes(true)
}

/** Signs `message` (any bytes) under TAGS.blsSignatureDst; returns 96 bytes. */
export function blsSign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  checkSecretKey(secretKey)
  return bls.Signature.toBytes(bls.sign(bls.hash(message, TAGS.blsSignatureDst), secretKey))
}

/** True if `signature` is `publicKey`'s signature of `message`; false for any malformed input. */
export function blsVerify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  return verifyWithDst(decodePublicKey(publicKey), message, signature, TAGS.blsSignatureDst)
}

/**
 * PopProve (draft §3.3.2): the secret key's signature of its own public key under the separate
 * TAGS.blsPopDst, so a PoP can never double as a signature on a message that looks like a key.
 */
export function blsProofOfPossession(secretKey: Uint8Array): Uint8Array {
  const publicKey = blsPublicKey(secretKey)
  return bls.Signature.toBytes(bls.sign(bls.hash(publicKey, TAGS.blsPopDst), secretKey))
}

/** PopVerify (draft §3.3.3). Check this before a key may count in any aggregate. */
export function verifyBlsProofOfPossession(publicKey: Uint8Array, proof: Uint8Array): boolean {
  return verifyWithDst(decodePublicKey(publicKey), publicKey, proof, TAGS.blsPopDst)
}

/**
 * PopVerify of many keys at once: true only if every proof verifies (a caller that gets false
 * checks them one by one to name the bad one). Small-exponent batch verification: with random
 * non-zero 128-bit r_i, e(G1, Σ r_i·π_i) = Π e(r_i·PK_i, H_pop(PK_i)), so n + 1 Miller loops
 * and one final exponentiation instead of 2n and n; a bad proof passes with probability
 * about 2^-128. Public values only.
 */
export function verifyBlsProofsOfPossession(
  publicKeys: readonly Uint8Array[],
  proofs: readonly Uint8Array[],
): boolean {
  if (publicKeys.length === 0 || publicKeys.length !== proofs.length) return false
  const items: Array<{ message: G2Point; publicKey: G1Point }> = []
  let sum: G2Point | undefined
  for (let i = 0; i < publicKeys.length; i++) {
    const key = decodePublicKey(publicKeys[i]!)
    const proof = decodeSignature(proofs[i]!)
    if (!key || !proof || key.is0()) return false
    const random = globalThis.crypto.getRandomValues(new Uint8Array(16))
    const r = BigInt(`0x${bytesToHex(random)}`) + 1n
    items.push({
      message: bls.hash(publicKeys[i]!, TAGS.blsPopDst),
      publicKey: key.multiplyUnsafe(r),
    })
    const weighted = proof.multiplyUnsafe(r)
    sum = sum ? sum.add(weighted) : weighted
  }
  return bls.verifyBatch(sum!, items)
}

/**
 * Adds signatures into one 96-byte aggregate (draft §2.8). Throws INVALID_SIGNATURE naming the
 * index of an undecodable signature; it does not check that the parts are valid signatures.
 */
export function aggregateBlsSignatures(signatures: readonly Uint8Array[]): Uint8Array {
  if (signatures.length === 0) {
    throw new EhrlogError('ARGUMENT_INVALID', 'cannot aggregate 0 BLS signatures, want at least 1')
  }
  const points = signatures.map((signature, index) => {
    const point = decodeSignature(signature)
    if (!point) {
      throw new EhrlogError(
        'INVALID_SIGNATURE',
        `BLS signature ${index} is not a valid compressed G2 point (${signature.byteLength} bytes)`,
        { details: { index, signature: bytesToHex(signature) } },
      )
    }
    return point
  })
  return bls.Signature.toBytes(bls.aggregateSignatures(points))
}

/**
 * FastAggregateVerify (draft §3.3.4): true if `aggregateSignature` aggregates signatures of the
 * one `message` by exactly `publicKeys`. Precondition: every key's proof of possession was
 * verified (membership does this); a key listed twice counts twice.
 */
export function verifyBlsAggregate(
  publicKeys: readonly Uint8Array[],
  message: Uint8Array,
  aggregateSignature: Uint8Array,
): boolean {
  if (publicKeys.length === 0) return false
  const points: G1Point[] = []
  for (const publicKey of publicKeys) {
    const point = decodePublicKey(publicKey)
    if (!point) return false
    points.push(point)
  }
  return verifyWithDst(
    bls.aggregatePublicKeys(points),
    message,
    aggregateSignature,
    TAGS.blsSignatureDst,
  )
}

function verifyWithDst(
  publicKey: G1Point | undefined,
  message: Uint8Array,
  signature: Uint8Array,
  dst: string,
): boolean {
  if (!publicKey) return false
  const point = decodeSignature(signature)
  if (!point) return false
  // An identity aggregate key (keys that cancel out) would accept the identity signature.
  if (publicKey.is0()) return false
  return bls.verify(point, bls.hash(message, dst), publicKey)
}

/**
 * KeyValidate (draft §2.5): on the curve, in the prime-order subgroup (checked by noble's
 * fromBytes), and not the identity, which would verify the identity signature for any message.
 */
function decodePublicKey(bytes: Uint8Array): G1Point | undefined {
  if (bytes.byteLength !== BLS_PUBLIC_KEY_LENGTH) return undefined
  const hex = bytesToHex(bytes)
  const cached = publicKeyCache.get(hex)
  if (cached) return cached
  let point: G1Point
  try {
    point = bls12_381.G1.Point.fromBytes(bytes)
  } catch {
    return undefined
  }
  if (point.is0()) return undefined
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear()
  publicKeyCache.set(hex, point)
  return point
}

/** A compressed G2 point in the prime-order subgroup (noble checks both), or undefined. */
function decodeSignature(bytes: Uint8Array): G2Point | undefined {
  if (bytes.byteLength !== BLS_SIGNATURE_LENGTH) return undefined
  try {
    return bls.Signature.fromBytes(bytes)
  } catch {
    return undefined
  }
}

// noble's Fr.fromBytes reduces modulo r instead of rejecting, so check the range here:
// a key >= r would silently sign as a different key.
function checkSecretKey(secretKey: Uint8Array): void {
  if (secretKey.byteLength !== BLS_SECRET_KEY_LENGTH) {
    throw new EhrlogError(
      'KEY_FILE_INVALID',
      `BLS secret key has ${secretKey.byteLength} bytes, want ${BLS_SECRET_KEY_LENGTH}`,
    )
  }
  const scalar = BigInt(`0x${bytesToHex(secretKey)}`)
  if (scalar === 0n || scalar >= bls12_381_Fr.ORDER) {
    throw new EhrlogError('KEY_FILE_INVALID', 'BLS secret key is not in the range 1..r-1')
  }
}
