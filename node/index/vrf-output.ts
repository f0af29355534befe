import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE, concatBytes, numberToBytesLE } from '@noble/curves/utils.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { encodeToCurve, vrfOutput } from '../core/index/vrf.ts'

/*
 * beta = ECVRF_proof_to_hash(x*H) (RFC 9381 sections 5.1 and 5.2, suite 0x03) for many
 * patients under one secret key, on Node: the same bytes as core/index/vrf.ts's vrfOutput, with
 * its one costly step, the constant-time variable-base multiplication x*H in pure-JS BigInt
 * (~0.8 ms), done by OpenSSL's X25519 (RFC 7748) through node:crypto instead (~0.1 ms each).
 *
 * Why that is the same point: edwards25519 and curve25519 are birationally equivalent
 * (RFC 7748 section 4.1, u = (1 + y) / (1 - y)), the map is a group isomorphism, and X25519(k, u)
 * is the u-coordinate of k times the point of u-coordinate u, with k clamped as RFC 7748 5
 * says. The RFC 8032 expanded secret (`head`) is already clamped the same way, and
 * x = head mod q, so for a point P of order q, X25519(head, u(P)) = u(x*P).
 *
 * proof_to_hash needs cofactor*Gamma = 8*(x*H) = x*P with P = 8*H, encoded as y and the sign
 * of x: u gives y (y = (u - 1) / (u + 1)) but not the sign, since u(T) = u(-T). A second
 * X25519 with head + d (d = ±8, still a clamped scalar) gives u(T + d*P); of the two
 * candidates T0 and -T0 decoded from y (noble's point decoding), exactly one plus d*P has that
 * u-coordinate (both would mean 2*T0 = 0, and T0 has order q). So the point is chosen, not
 * computed here: every group operation is OpenSSL's or noble's. Anything unexpected (a point
 * of small order, an X25519 error, no candidate matching) falls back to vrfOutput.
 *
 * The secret scalar is only ever used inside OpenSSL's X25519 (a constant-time ladder); what
 * noble handles here is H (from the public key and the patient id) and T (the cofactor-cleared
 * Gamma, which the VRF proof of that patient discloses anyway), as in vrfOutput.
 */

const Point = ed25519.Point
const Fp = Point.Fp
/** suite_string for ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 section 5.5). */
const SUITE = 0x03
/** The PKCS#8 DER prefix of a raw X25519 private key (RFC 8410). */
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** Clamped per RFC 7748 section 5: bits 0-2 and 255 clear, bit 254 set. */
function isClamped(k: bigint): boolean {
  return (k & 7n) === 0n && k >> 255n === 0n && ((k >> 254n) & 1n) === 1n
}

/** One secret key's VRF outputs: the key expansion and the two X25519 keys made once. */
export class VrfOutputs {
  readonly #secretKey: Uint8Array
  readonly #publicKey: Uint8Array
  readonly #k1: KeyObject
  readonly #k2: KeyObject
  /** head + d as a multiple of P: the second scalar's offset, ±8. */
  readonly #d: bigint
  /** Outputs that took the reference path (expected never; tests check it). */
  fallbacks = 0

  constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey
    const { head, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey)
    this.#publicKey = pointBytes
    const h = bytesToNumberLE(head)
    this.#d = isClamped(h + 8n) ? 8n : -8n
    this.#k1 = x25519Private(numberToBytesLE(h, 32))
    this.#k2 = x25519Private(numberToBytesLE(h + this.#d, 32))
  }

  /** The 64-byte beta for alpha: equal to vrfOutput(secretKey, alpha). */
  output(alpha: Uint8Array): Uint8Array {
    const h = encodeToCurve(this.#publicKey, alpha)
    try {
      const t = this.#timesX(h)
      if (t) return betaOf(t)
    } catch {
      // an X25519 error (small-order input) or a y that does not decode: the reference path
    }
    this.fallbacks++
    return vrfOutput(this.#secretKey, alpha)
  }

  /** x*(8*H) as a noble point, or undefined when the u-coordinates do not single one out. */
  #timesX(h: InstanceType<typeof Point>): InstanceType<typeof Point> | undefined {
    const p = h.double().double().double()
    if (p.is0()) return undefined
    const uP = montgomeryU(p)
    const u1 = bytesToNumberLE(x25519(this.#k1, uP))
    const u2 = bytesToNumberLE(x25519(this.#k2, uP))
    if (u1 === 0n || Fp.add(u1, 1n) === 0n) return undefined
    const y = Fp.div(Fp.sub(u1, 1n), Fp.add(u1, 1n))
    const t0 = Point.fromBytes(numberToBytesLE(y, 32), false)
    const dP = this.#d > 0n ? p.multiplyUnsafe(8n) : p.multiplyUnsafe(8n).negate()
    const matches = (t: InstanceType<typeof Point>) => {
      const s = t.add(dP)
      if (s.is0()) return false
      // u(S) = (Z + Y) / (Z - Y) in projective coordinates: compared without an inversion.
      return Fp.eql(Fp.mul(u2, Fp.sub(s.Z, s.Y)), Fp.add(s.Z, s.Y))
    }
    const neg = t0.negate()
    const a = matches(t0)
    const b = matches(neg)
    if (a === b) return undefined
    return a ? t0 : neg
  }
}

/** beta = SHA-512(suite || 0x03 || point_to_string(T) || 0x00), T already cofactor-cleared. */
function betaOf(t: InstanceType<typeof Point>): Uint8Array {
  return sha512(concatBytes(Uint8Array.of(SUITE, 0x03), t.toBytes(), Uint8Array.of(0x00)))
}

/** u = (1 + y) / (1 - y) = (Z + Y) / (Z - Y), 32 bytes little-endian. */
function montgomeryU(p: InstanceType<typeof Point>): Uint8Array {
  return numberToBytesLE(Fp.div(Fp.add(p.Z, p.Y), Fp.sub(p.Z, p.Y)), 32)
}

function x25519Private(scalar: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_X25519, scalar]),
    format: 'der',
    type: 'pkcs8',
  })
}

function x25519(privateKey: KeyObject, u: Uint8Array): Uint8Array {
  // A JWK (RFC 8037) imports in ~10 µs here, the same key as SPKI DER in ~100 µs.
  const x = Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64url')
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' })
  return diffieHellman({ privateKey, publicKey })
}
