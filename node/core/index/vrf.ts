import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE, concatBytes, numberToBytesLE } from '@noble/curves/utils.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { EhrlogError } from '../errors.ts'
import { toHex } from '../hex.ts'

/*
 * ECVRF-EDWARDS25519-SHA512-TAI, RFC 9381 section 5 with the suite of section 5.5, composed
 * from @noble/curves' edwards25519 points and scalars and @noble/hashes' SHA-512 (no field
 * arithmetic here; usable in the browser as is). The patient index keys its tree by this
 * VRF's output, so that only a holder of the secret key (or of one patient's proof) can find
 * where a patient's leaf is, and a client can check the key belongs to the patient it asked
 * about (docs/architecture.md, "Complete answers").
 */

const Point = ed25519.Point
type EdPoint = InstanceType<typeof Point>
/** q: the order of the prime subgroup (RFC 9381 section 5.5: q = 2^252 + ...). */
const Q = Point.Fn.ORDER
/** suite_string for ECVRF-EDWARDS25519-SHA512-TAI (section 5.5). */
const SUITE = 0x03
/** cLen = 16 bytes, ptLen = qLen = 32 (section 5.5). */
const C_LEN = 16
const PT_LEN = 32
export const VRF_PROOF_SIZE = PT_LEN + C_LEN + PT_LEN
export const VRF_OUTPUT_SIZE = 64
export const VRF_PUBLIC_KEY_SIZE = 32
export const VRF_SECRET_KEY_SIZE = 32

export interface VrfKeyPair {
  /** The 32-byte RFC 8032 secret key (SK). */
  secretKey: Uint8Array
  /** point_to_string(x*B): 32 bytes (PK_string). */
  publicKey: Uint8Array
}

/** The VRF key pair of a 32-byte secret key: the same expansion as Ed25519 (RFC 8032 5.1.5). */
export function vrfKeyPair(secretKey: Uint8Array): VrfKeyPair {
  requireLength('secret key', secretKey, VRF_SECRET_KEY_SIZE)
  return { secretKey, publicKey: ed25519.utils.getExtendedPublicKey(secretKey).pointBytes }
}

/**
 * ECVRF_encode_to_curve_try_and_increment (section 5.4.1.1) with encode_to_curve_salt =
 * PK_string: hash until the first 32 bytes decode as a point (RFC 8032 5.1.3, canonical only),
 * then clear the cofactor. About two tries on average; ctr is one byte, so 256 fails are an
 * error (probability 2^-256).
 */
export function encodeToCurve(publicKey: Uint8Array, alpha: Uint8Array): EdPoint {
  const front = Uint8Array.of(SUITE, 0x01)
  for (let ctr = 0; ctr < 256; ctr++) {
    const hashString = sha512(concatBytes(front, publicKey, alpha, Uint8Array.of(ctr, 0x00)))
    const h = decodePoint(hashString.subarray(0, PT_LEN))
    if (h) return h.clearCofactor()
  }
  throw new EhrlogError('INTERNAL', 'ECVRF encode_to_curve found no point in 256 tries')
}

/** ECVRF_prove (section 5.1): pi = Gamma || c (16 bytes) || s (32 bytes), 80 bytes. */
export function vrfProve(secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  requireLength('secret key', secretKey, VRF_SECRET_KEY_SIZE)
  // Step 1: x and Y from the RFC 8032 expansion; `prefix` is the second half of SHA-512(SK).
  const { scalar: x, prefix, pointBytes: pk } = ed25519.utils.getExtendedPublicKey(secretKey)
  const h = encodeToCurve(pk, alpha) // step 2
  const hString = h.toBytes() // step 3
  const gamma = h.multiply(x) // step 4
  // Step 5: ECVRF_nonce_generation_RFC8032 (section 5.4.2.2).
  const k = bytesToNumberLE(sha512(concatBytes(prefix, hString))) % Q
  const u = Point.BASE.multiply(k)
  const v = h.multiply(k)
  const c = challenge([pk, hString, gamma.toBytes(), u.toBytes(), v.toBytes()]) // step 6
  const s = (k + c * x) % Q // step 7
  return concatBytes(gamma.toBytes(), numberToBytesLE(c, C_LEN), numberToBytesLE(s, PT_LEN))
}

/**
 * ECVRF_verify (section 5.3) with validate_key: returns beta (64 bytes) for a valid proof of
 * alpha under publicKey. Throws INVALID_PROOF (reason in details) for anything else: a key or
 * Gamma that does not decode, a small-order key, s >= q, or a challenge that does not match.
 */
export function vrfVerify(publicKey: Uint8Array, alpha: Uint8Array, pi: Uint8Array): Uint8Array {
  const fail = (why: string) =>
    new EhrlogError('INVALID_PROOF', `VRF proof does not verify: ${why}`, {
      details: { reason: 'vrf-invalid', publicKey: toHex(publicKey), pi: toHex(pi) },
    })
  if (publicKey.length !== VRF_PUBLIC_KEY_SIZE)
    throw fail(`public key has ${publicKey.length} bytes, want 32`)
  if (pi.length !== VRF_PROOF_SIZE)
    throw fail(`proof has ${pi.length} bytes, want ${VRF_PROOF_SIZE}`)
  const y = decodePoint(publicKey) // step 1
  if (!y) throw fail('public key is not a point')
  if (y.isSmallOrder()) throw fail('public key has small order') // step 2 (validate_key)
  // Step 3: ECVRF_decode_proof (section 5.4.4).
  const gamma = decodePoint(pi.subarray(0, PT_LEN))
  if (!gamma) throw fail('Gamma is not a point')
  const c = bytesToNumberLE(pi.subarray(PT_LEN, PT_LEN + C_LEN))
  const s = bytesToNumberLE(pi.subarray(PT_LEN + C_LEN))
  if (s >= Q) throw fail('s is not below q')
  const h = encodeToCurve(publicKey, alpha) // step 4
  // Step 5: U = s*B - c*Y, V = s*H - c*Gamma (public values: the unsafe, faster multiply).
  const u = Point.BASE.multiplyUnsafe(s).subtract(y.multiplyUnsafe(c))
  const v = h.multiplyUnsafe(s).subtract(gamma.multiplyUnsafe(c))
  const cPrime = challenge([publicKey, h.toBytes(), gamma.toBytes(), u.toBytes(), v.toBytes()])
  if (c !== cPrime) throw fail('challenge does not match') // step 7
  return proofToHashOf(gamma)
}

/**
 * beta for alpha without making the proof: proof_to_hash of Gamma = x*H (sections 5.1 step 4
 * and 5.2), one scalar multiplication instead of three. Equal to vrfProofToHash(vrfProve(...)).
 */
export function vrfOutput(secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  requireLength('secret key', secretKey, VRF_SECRET_KEY_SIZE)
  const { scalar: x, pointBytes: pk } = ed25519.utils.getExtendedPublicKey(secretKey)
  return proofToHashOf(encodeToCurve(pk, alpha).multiply(x))
}

/**
 * ECVRF_proof_to_hash (section 5.2): beta from pi without verifying it. Only for a proof the
 * caller made or already verified (vrfVerify returns beta itself).
 */
export function vrfProofToHash(pi: Uint8Array): Uint8Array {
  requireLength('proof', pi, VRF_PROOF_SIZE)
  const gamma = decodePoint(pi.subarray(0, PT_LEN))
  if (!gamma) {
    throw new EhrlogError('INVALID_PROOF', 'VRF proof: Gamma is not a point', {
      details: { reason: 'vrf-invalid', pi: toHex(pi) },
    })
  }
  return proofToHashOf(gamma)
}

/** beta = SHA-512(suite || 0x03 || point_to_string(cofactor * Gamma) || 0x00). */
function proofToHashOf(gamma: EdPoint): Uint8Array {
  const cleared = gamma.clearCofactor().toBytes()
  return sha512(concatBytes(Uint8Array.of(SUITE, 0x03), cleared, Uint8Array.of(0x00)))
}

/** ECVRF_challenge_generation (section 5.4.3): the first cLen bytes of the hash, little-endian. */
function challenge(points: Uint8Array[]): bigint {
  const cString = sha512(concatBytes(Uint8Array.of(SUITE, 0x02), ...points, Uint8Array.of(0x00)))
  return bytesToNumberLE(cString.subarray(0, C_LEN))
}

/** string_to_point (RFC 8032 5.1.3, canonical encodings only), undefined when invalid. */
function decodePoint(bytes: Uint8Array): EdPoint | undefined {
  try {
    return Point.fromBytes(bytes, false)
  } catch {
    return undefined
  }
}

function requireLength(what: string, bytes: Uint8Array, want: number): void {
  if (bytes.length !== want) {
    throw new EhrlogError('ARGUMENT_INVALID', `VRF ${what} has ${bytes.length} bytes, want ${want}`)
  }
}
