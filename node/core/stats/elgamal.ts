import { concatBytes } from '@noble/curves/utils.js'
import { EhrlogError } from '../errors.ts'
import {
  G,
  type GroupPoint,
  hashToScalar,
  mulSecret,
  POINT_SIZE,
  Point,
  pointFromBytes,
  STATS_TAGS,
  shortText,
  u16,
} from './group.ts'

/*
 * Exponential ElGamal over ristretto255: a count m under the key Y is (C1, C2) = (r·G, m·G + r·Y).
 * Ciphertexts add: the sum of encryptions of m and m' is an encryption of m + m' under r + r',
 * which is how the network total is formed without anyone decrypting one hospital's count.
 * Decryption gives m·G only, so m is recovered by a bounded search (bsgs.ts): fine for counts.
 */

export const CIPHERTEXT_SIZE = 2 * POINT_SIZE

export interface Ciphertext {
  c1: GroupPoint
  c2: GroupPoint
}

/**
 * The nonce of counter `index` of `origin` for `period`: a hash of the members' statistics
 * seed (a 32-byte secret every member holds and no outsider does), so any member can recompute
 * the exact ciphertexts an origin must publish from its own copy of that origin's feed and
 * catch a hospital that under-reports (docs/architecture.md argues this choice). Unique per
 * (origin, period, counter), so no two ciphertexts share a nonce.
 */
export function counterNonce(
  seed: Uint8Array,
  origin: string,
  period: string,
  index: number,
): bigint {
  if (seed.length !== 32)
    throw new EhrlogError('ARGUMENT_INVALID', 'the statistics seed must be 32 bytes')
  return hashToScalar(STATS_TAGS.nonce, seed, shortText(origin), shortText(period), u16(index))
}

/** Enc_Y(m; r). m and r are secret: constant-time multiplications only. */
export function encrypt(publicKey: GroupPoint, m: number, r: bigint): Ciphertext {
  if (!Number.isSafeInteger(m) || m < 0) {
    throw new EhrlogError('ARGUMENT_INVALID', `a count must be a safe integer >= 0, got ${m}`)
  }
  return { c1: mulSecret(G, r), c2: mulSecret(G, BigInt(m)).add(mulSecret(publicKey, r)) }
}

/** One origin's counter vector for a period, each with its derived nonce. */
export function encryptCounters(
  publicKey: GroupPoint,
  seed: Uint8Array,
  origin: string,
  period: string,
  counts: readonly number[],
): Ciphertext[] {
  // A window table for the key (built once per key object) halves the cost of r·Y here.
  publicKey.precompute(8)
  return counts.map((m, index) => encrypt(publicKey, m, counterNonce(seed, origin, period, index)))
}

export function addCiphertexts(a: Ciphertext, b: Ciphertext): Ciphertext {
  return { c1: a.c1.add(b.c1), c2: a.c2.add(b.c2) }
}

export const ZERO_CIPHERTEXT: Ciphertext = { c1: Point.ZERO, c2: Point.ZERO }

/** Cell-wise sum of equally long ciphertext vectors. */
export function sumVectors(
  vectors: readonly (readonly Ciphertext[])[],
  length: number,
): Ciphertext[] {
  const out = Array.from({ length }, () => ZERO_CIPHERTEXT)
  for (const vector of vectors) {
    if (vector.length !== length) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `a vector has ${vector.length} cells, want ${length}`,
      )
    }
    vector.forEach((c, i) => {
      out[i] = addCiphertexts(out[i]!, c)
    })
  }
  return out
}

/** C1 || C2, 64 bytes. */
export function ciphertextToBytes(c: Ciphertext): Uint8Array {
  return concatBytes(c.c1.toBytes(), c.c2.toBytes())
}

/** Two canonical ristretto255 encodings, or undefined. */
export function ciphertextFromBytes(bytes: Uint8Array): Ciphertext | undefined {
  if (bytes.length !== CIPHERTEXT_SIZE) return undefined
  const c1 = pointFromBytes(bytes.subarray(0, POINT_SIZE))
  const c2 = pointFromBytes(bytes.subarray(POINT_SIZE))
  return c1 && c2 ? { c1, c2 } : undefined
}

/** The whole decryption with the whole secret key: for tests and for checking one's own work. */
export function decryptToPoint(secretKey: bigint, c: Ciphertext): GroupPoint {
  return c.c2.subtract(mulSecret(c.c1, secretKey))
}
