import { interleavedMSMUnsafe, mulAddUnsafe } from '@noble/curves/abstract/curve.js'
import { concatBytes } from '@noble/curves/utils.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { EhrlogError } from '../errors.ts'
import {
  G,
  type GroupPoint,
  hashToScalar,
  lagrangeAtZero,
  mod,
  mulPublic,
  mulSecret,
  Point,
  pointFromBytes,
  STATS_TAGS,
  scalarFromBytes,
  scalarToBytes,
  taggedDigest,
  u16,
} from './group.ts'

/*
 * Threshold decryption with proofs. Member j's decryption share of a cell is D = x_j·C1; it
 * proves log_G(X_j) = log_C1(D) (Chaum–Pedersen), for all the cells at once with one proof,
 * as RFC 9497 §2.2.1 does for many evaluations (ComputeComposites): weights d_l hashed from
 * everything the proof is about give M = sum d_l·C1_l and Z = sum d_l·D_l, and the one DLEQ
 * proof is over (G, X_j, M, Z). A wrong D_l passes only if the hashed weights happen to cancel
 * it (probability 1/l). Fiat–Shamir over a domain-separated transcript that starts with the
 * bundle's context digest (period, key, hospitals, sum, published cells), so a proof is bound
 * to its bundle and member.
 */

export const PROOF_SIZE = 64

export interface DecryptionShare {
  member: number
  /** x_j·C1_l for each cell l of the context, in order. */
  shares: GroupPoint[]
  /** c || s (32 + 32 bytes). */
  proof: Uint8Array
}

/** The composite weights d_l, bound to the context, the member, its key and its shares. */
function compositeWeights(
  context: Uint8Array,
  member: number,
  xBytes: Uint8Array,
  dBytes: readonly Uint8Array[],
  cells: number,
): bigint[] {
  const seed = taggedDigest(STATS_TAGS.composite, context, Uint8Array.of(member), xBytes, ...dBytes)
  return Array.from({ length: cells }, (_, l) => hashToScalar(STATS_TAGS.composite, seed, u16(l)))
}

/**
 * Σ w_l·P_l over public points and scalars: noble's interleaved wNAF (Strauss–Shamir), which
 * at the 50-odd points of a bundle does about half the point additions of Pippenger's buckets
 * (one doubling chain as long as the largest scalar, one addition per non-zero digit).
 */
export function msmPublic(points: readonly GroupPoint[], scalars: readonly bigint[]): GroupPoint {
  return points.length === 0 ? Point.ZERO : mulAddUnsafe(Point, [...points], [...scalars])
}

function composite(
  context: Uint8Array,
  member: number,
  x: GroupPoint,
  c1s: readonly GroupPoint[],
  ds: readonly GroupPoint[],
): { m: GroupPoint; z: GroupPoint } {
  const weights = compositeWeights(
    context,
    member,
    x.toBytes(),
    ds.map((d) => d.toBytes()),
    c1s.length,
  )
  return { m: msmPublic(c1s, weights), z: msmPublic(ds, weights) }
}

function challenge(context: Uint8Array, member: number, points: readonly Uint8Array[]): bigint {
  return hashToScalar(STATS_TAGS.dleq, context, Uint8Array.of(member), ...points)
}

/** Member j's shares of the cells with first components `c1s`, and its proof. */
export function makeDecryptionShare(
  context: Uint8Array,
  member: number,
  secretShare: Uint8Array,
  c1s: readonly GroupPoint[],
): DecryptionShare {
  const x = scalarFromBytes(secretShare)
  if (x === undefined) throw new EhrlogError('ARGUMENT_INVALID', 'the secret share is not a scalar')
  const publicShare = mulSecret(G, x)
  const shares = c1s.map((c1) => mulSecret(c1, x))
  const { m, z } = composite(context, member, publicShare, c1s, shares)
  // A hedged nonce: random bytes and the secret together, so a weak RNG alone does not leak x.
  const w = hashToScalar(
    STATS_TAGS.dleqNonce,
    secretShare,
    m.toBytes(),
    z.toBytes(),
    randomBytes(32),
  )
  const a = mulSecret(G, w)
  const b = mulSecret(m, w)
  const c = challenge(
    context,
    member,
    [publicShare, m, z, a, b].map((p) => p.toBytes()),
  )
  const s = mod(w - c * x)
  return { member, shares, proof: concatBytes(scalarToBytes(c), scalarToBytes(s)) }
}

/**
 * True when `share` holds x_j·C1_l for every cell, x_j being the secret of `sharePublicKey`
 * (from the key's commitments). Verification only: public data, variable-time arithmetic.
 */
export function verifyDecryptionShare(
  context: Uint8Array,
  sharePublicKey: GroupPoint,
  c1s: readonly GroupPoint[],
  share: DecryptionShare,
): boolean {
  return (
    forgedDecryptionShares(
      context,
      [sharePublicKey],
      c1s,
      [share],
      [share.shares.map((d) => d.toBytes())],
    ).length === 0
  )
}

/**
 * The indexes (into `shares`) of the shares whose proof does not verify, each checked as
 * verifyDecryptionShare does. `encoded[i]` are share i's points as read (their one canonical
 * encoding, so they need not be encoded again). The cells' M = Σ d_l·C1_l of every member
 * come from one table of odd multiples per C1_l, built once for all the shares.
 *
 * Every share is checked on its own: a proof is (c, s), and its commitments A = s·G + c·X_j,
 * B = s·M + c·Z are hashed to give c back, so they must be computed and encoded per share
 * and cannot be folded into one random linear combination without other proof bytes.
 */
export function forgedDecryptionShares(
  context: Uint8Array,
  sharePublicKeys: readonly GroupPoint[],
  c1s: readonly GroupPoint[],
  shares: readonly DecryptionShare[],
  encoded: readonly (readonly Uint8Array[])[],
): number[] {
  const forged: number[] = []
  const fixedC1 =
    shares.length > 1 && c1s.length > 0 ? interleavedMSMUnsafe(Point, [...c1s], 6) : undefined
  shares.forEach((share, i) => {
    if (!proofHolds(context, sharePublicKeys[i]!, c1s, share, encoded[i]!, fixedC1)) forged.push(i)
  })
  return forged
}

function proofHolds(
  context: Uint8Array,
  x: GroupPoint,
  c1s: readonly GroupPoint[],
  share: DecryptionShare,
  dBytes: readonly Uint8Array[],
  fixedC1: ((scalars: bigint[]) => GroupPoint) | undefined,
): boolean {
  if (share.shares.length !== c1s.length || share.proof.length !== PROOF_SIZE) return false
  const c = scalarFromBytes(share.proof.subarray(0, 32))
  const s = scalarFromBytes(share.proof.subarray(32))
  if (c === undefined || s === undefined) return false
  const xBytes = x.toBytes()
  const weights = compositeWeights(context, share.member, xBytes, dBytes, c1s.length)
  const m = fixedC1 ? fixedC1(weights) : msmPublic(c1s, weights)
  const z = msmPublic(share.shares, weights)
  // A = s·G + c·X_j, B = s·M + c·Z (RFC 9497 §2.2.2 VerifyProof).
  const a = mulPublic(G, s).add(mulPublic(x, c))
  const b = msmPublic([m, z], [s, c])
  const points = [xBytes, m.toBytes(), z.toBytes(), a.toBytes(), b.toBytes()]
  return challenge(context, share.member, points) === c
}

/**
 * Lagrange combination of k (or more) verified shares: for each cell, sum_j lambda_j·D_j,l =
 * x·C1_l, and C2_l minus it is total_l·G.
 */
export function combineDecryptionShares(
  c2s: readonly GroupPoint[],
  shares: readonly DecryptionShare[],
): GroupPoint[] {
  const members = shares.map((s) => s.member)
  if (new Set(members).size !== members.length) {
    throw new EhrlogError('ARGUMENT_INVALID', 'a member gave two decryption shares')
  }
  const lambdas = lagrangeAtZero(members)
  return c2s.map((c2, l) => {
    if (shares.length === 0) return c2
    const points = shares.map((s) => s.shares[l]!)
    return c2.subtract(msmPublic(points, lambdas))
  })
}

/** Decodes a share's points; undefined if any is not a canonical encoding. */
export function decodeSharePoints(bytes: readonly Uint8Array[]): GroupPoint[] | undefined {
  const out: GroupPoint[] = []
  for (const b of bytes) {
    const p = pointFromBytes(b)
    if (!p) return undefined
    out.push(p)
  }
  return out
}
