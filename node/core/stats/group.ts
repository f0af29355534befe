import { ristretto255 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE, concatBytes, numberToBytesLE } from '@noble/curves/utils.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { EhrlogError } from '../errors.ts'

/*
 * The prime-order group of the private statistics: ristretto255 (RFC 9496) from @noble/curves,
 * so every element has one 32-byte encoding and there is no cofactor to reason about. Scalars
 * are integers mod the group order l, encoded as 32 bytes little-endian and required < l when
 * decoded (one encoding per scalar). No node: imports: this runs in the browser too.
 *
 * Constant time: `Point.multiply` (noble's constant-time ladder over a precomputed window) is
 * used whenever the scalar is secret (key shares, polynomial coefficients, encryption nonces,
 * counts, proof nonces); `multiplyUnsafe` and `pippenger` only for public scalars (verification).
 */

export const Point = ristretto255.Point
export type GroupPoint = InstanceType<typeof Point>
/** l = 2^252 + 27742317777372353535851937790883648493 (RFC 9496 §4). */
export const ORDER: bigint = Point.Fn.ORDER
export const POINT_SIZE = 32
export const SCALAR_SIZE = 32
export const G: GroupPoint = Point.BASE

/**
 * The domain-separation tags of the statistics (docs/format.md, "Private network statistics").
 * Every hash is H(UTF8(tag) || 0x00 || fields); no tag contains 0x00.
 */
export const STATS_TAGS = {
  bundle: 'ehrlog/stats-bundle/v2',
  context: 'ehrlog/stats-context/v1',
  nonce: 'ehrlog/stats-nonce/v1',
  composite: 'ehrlog/stats-composite/v1',
  dleq: 'ehrlog/stats-dleq/v1',
  dleqNonce: 'ehrlog/stats-dleq-nonce/v1',
  dkgProof: 'ehrlog/stats-dkg-proof/v1',
} as const

const utf8 = new TextEncoder()

/** UTF8(tag) || 0x00 || parts. */
export function tagged(tag: string, ...parts: Uint8Array[]): Uint8Array {
  return concatBytes(utf8.encode(tag), Uint8Array.of(0), ...parts)
}

/** SHA-256 of a tagged input: the 32-byte digests (contexts, composite seeds). */
export function taggedDigest(tag: string, ...parts: Uint8Array[]): Uint8Array {
  return sha256(tagged(tag, ...parts))
}

/**
 * A scalar from a tagged input: SHA-512 reduced mod l. 64 bytes reduced mod a 253-bit l is
 * within 2^-259 of uniform (the same construction as RFC 9496 §4.3.4's element derivation
 * and RFC 9591's H2 for ristretto255).
 */
export function hashToScalar(tag: string, ...parts: Uint8Array[]): bigint {
  return bytesToNumberLE(sha512(tagged(tag, ...parts))) % ORDER
}

/** A uniformly random non-zero scalar from the platform CSPRNG (64 bytes, reduced). */
export function randomScalar(): bigint {
  for (;;) {
    const k = bytesToNumberLE(randomBytes(64)) % ORDER
    if (k !== 0n) return k
  }
}

export function mod(a: bigint): bigint {
  const r = a % ORDER
  return r < 0n ? r + ORDER : r
}

export function scalarToBytes(k: bigint): Uint8Array {
  return numberToBytesLE(mod(k), SCALAR_SIZE)
}

/** A canonical scalar (32 bytes LE, < l), or undefined. */
export function scalarFromBytes(bytes: Uint8Array): bigint | undefined {
  if (bytes.length !== SCALAR_SIZE) return undefined
  const k = bytesToNumberLE(bytes)
  return k < ORDER ? k : undefined
}

/** A canonical ristretto255 encoding (RFC 9496 §4.3.1 decode), or undefined. */
export function pointFromBytes(bytes: Uint8Array): GroupPoint | undefined {
  if (bytes.length !== POINT_SIZE) return undefined
  try {
    return Point.fromBytes(bytes)
  } catch {
    return undefined
  }
}

/** The secret-scalar multiplication (constant time); 0 gives the identity. */
export function mulSecret(p: GroupPoint, k: bigint): GroupPoint {
  const s = mod(k)
  return s === 0n ? Point.ZERO : p.multiply(s)
}

/** The public-scalar multiplication (variable time; never with secrets). */
export function mulPublic(p: GroupPoint, k: bigint): GroupPoint {
  return p.multiplyUnsafe(mod(k))
}

export function invert(a: bigint): bigint {
  return Point.Fn.inv(mod(a))
}

/**
 * The Lagrange coefficients at 0 for the member indexes `xs` (distinct, 1..n): the weights
 * that turn any k evaluations f(x) of a degree-(k-1) polynomial into f(0).
 */
export function lagrangeAtZero(xs: readonly number[]): bigint[] {
  return xs.map((xi, i) => {
    let num = 1n
    let den = 1n
    for (let j = 0; j < xs.length; j++) {
      if (j === i) continue
      const xj = BigInt(xs[j]!)
      num = mod(num * xj)
      den = mod(den * (xj - BigInt(xi)))
    }
    return mod(num * invert(den))
  })
}

export function u16(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff)
}

export function shortText(s: string): Uint8Array {
  const bytes = utf8.encode(s)
  if (bytes.length > 255) {
    throw new EhrlogError('ARGUMENT_INVALID', `"${s.slice(0, 20)}…" is longer than 255 bytes`)
  }
  return concatBytes(Uint8Array.of(bytes.length), bytes)
}
