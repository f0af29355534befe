import { concatBytes } from '@noble/curves/utils.js'
import { EhrlogError } from '../errors.ts'
import {
  G,
  type GroupPoint,
  hashToScalar,
  mod,
  mulPublic,
  mulSecret,
  Point,
  pointFromBytes,
  randomScalar,
  STATS_TAGS,
  scalarFromBytes,
  scalarToBytes,
} from './group.ts'

/*
 * The statistics key no one holds: Pedersen's distributed key generation with Feldman
 * commitments (Pedersen 1991; the proof of knowledge of each dealer's constant term as in
 * FROST, RFC 9591 §5's trusted-dealer-free variant) for a k-of-n threshold (docs/architecture.md,
 * "Private network statistics", has the rounds and what goes in the feeds).
 *
 * Members are numbered 1..n (member i of network.json, counting from 0, is index i + 1): the
 * index is the x at which the member's share is a polynomial's value, so it is never 0.
 *
 * Every dealer i picks a random polynomial f_i of degree k-1, publishes A_it = a_it·G for
 * t = 0..k-1 and a Schnorr proof that it knows a_i0, and sends f_i(j) privately to each member
 * j. Member j checks f_i(j)·G = sum_t A_it·j^t; a failed check is a complaint, which dealer i
 * answers by revealing f_i(j) publicly (anyone re-checks it). The qualified dealers Q are
 * those with a valid proof and no complaint upheld. The public key is Y = sum_{i in Q} A_i0,
 * member j's secret share x_j = sum_{i in Q} f_i(j), and its share public key
 * X_j = x_j·G = sum_t (sum_{i in Q} A_it)·j^t: computable by anyone from the combined
 * commitments, which is what the statistics bundle carries.
 */

export const MAX_MEMBERS = 255

export interface DkgParams {
  /** Members, 1..255. */
  n: number
  /** Shares needed to decrypt, 1..n; `defaultThreshold(n)` unless the network says otherwise. */
  k: number
  /** Binds the proofs to one key generation: e.g. the network id and a generation counter. */
  context: Uint8Array
}

/** A majority: floor(n/2) + 1, the same quorum as checkpoints. */
export function defaultThreshold(n: number): number {
  return Math.floor(n / 2) + 1
}

/** What a dealer publishes in its feed in round 1. */
export interface Dealing {
  dealer: number
  /** A_i0 .. A_i(k-1), 32 bytes each. */
  commitments: Uint8Array[]
  /** R || z (64 bytes): Schnorr proof of knowledge of a_i0. */
  proof: Uint8Array
}

/** A dealer's round-1 output: the public dealing and the private share for each member. */
export interface DealerOutput {
  dealing: Dealing
  /** member index -> f_i(member), 32-byte scalar; each sent only to that member. */
  shares: Map<number, Uint8Array>
}

/** The combined, public result of a key generation: all a verifier needs. */
export interface StatsKey {
  n: number
  k: number
  /** C_t = sum over qualified dealers of A_it, t = 0..k-1; C_0 is the public key Y. */
  commitments: GroupPoint[]
}

export function checkParams({ n, k }: DkgParams): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_MEMBERS) {
    throw new EhrlogError('ARGUMENT_INVALID', `member count must be 1..${MAX_MEMBERS}, got ${n}`)
  }
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new EhrlogError('ARGUMENT_INVALID', `threshold must be 1..${n}, got ${k}`)
  }
}

function checkIndex(what: string, index: number, n: number): void {
  if (!Number.isInteger(index) || index < 1 || index > n) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `${what} must be a member index 1..${n}, got ${index}`,
    )
  }
}

function proofChallenge(params: DkgParams, dealer: number, a0: Uint8Array, r: Uint8Array): bigint {
  return hashToScalar(STATS_TAGS.dkgProof, params.context, Uint8Array.of(dealer), a0, r)
}

/** Round 1 for `dealer`: a fresh polynomial, its commitments and proof, the members' shares. */
export function deal(params: DkgParams, dealer: number): DealerOutput {
  checkParams(params)
  checkIndex('dealer', dealer, params.n)
  const coefficients = Array.from({ length: params.k }, () => randomScalar())
  const commitments = coefficients.map((a) => mulSecret(G, a).toBytes())
  const w = randomScalar()
  const r = mulSecret(G, w).toBytes()
  const c = proofChallenge(params, dealer, commitments[0]!, r)
  const z = mod(w + c * coefficients[0]!)
  const shares = new Map<number, Uint8Array>()
  for (let j = 1; j <= params.n; j++) {
    // Horner's rule; the coefficients are secret, but j and the arithmetic on bigints are the
    // same for every dealer (bigint arithmetic is not constant time: see the architecture notes).
    let value = 0n
    for (let t = params.k - 1; t >= 0; t--) value = mod(value * BigInt(j) + coefficients[t]!)
    shares.set(j, scalarToBytes(value))
  }
  return { dealing: { dealer, commitments, proof: concatBytes(r, scalarToBytes(z)) }, shares }
}

/** The dealing's commitments as points; throws INVALID_PROOF naming the dealer if malformed. */
function dealingPoints(params: DkgParams, dealing: Dealing): GroupPoint[] {
  if (dealing.commitments.length !== params.k) {
    throw dealingInvalid(
      dealing.dealer,
      `has ${dealing.commitments.length} commitments, want ${params.k}`,
    )
  }
  return dealing.commitments.map((bytes, t) => {
    const p = pointFromBytes(bytes)
    if (!p) throw dealingInvalid(dealing.dealer, `commitment ${t} is not a ristretto255 element`)
    return p
  })
}

function dealingInvalid(dealer: number, what: string): EhrlogError {
  return new EhrlogError('INVALID_PROOF', `the dealing of member ${dealer} ${what}`, {
    details: { reason: 'dealing-invalid', dealer },
  })
}

/** Checks a published dealing: k well-formed commitments and a valid proof of knowledge. */
export function verifyDealing(params: DkgParams, dealing: Dealing): void {
  checkParams(params)
  checkIndex('dealer', dealing.dealer, params.n)
  const points = dealingPoints(params, dealing)
  if (points[0]!.is0()) throw dealingInvalid(dealing.dealer, 'has the identity as its key part')
  const r = dealing.proof.length === 64 ? pointFromBytes(dealing.proof.subarray(0, 32)) : undefined
  const z = dealing.proof.length === 64 ? scalarFromBytes(dealing.proof.subarray(32)) : undefined
  if (!r || z === undefined) throw dealingInvalid(dealing.dealer, 'has a malformed proof')
  const c = proofChallenge(
    params,
    dealing.dealer,
    dealing.commitments[0]!,
    dealing.proof.subarray(0, 32),
  )
  if (!mulPublic(G, z).equals(r.add(mulPublic(points[0]!, c)))) {
    throw dealingInvalid(dealing.dealer, 'has a proof of knowledge that does not verify')
  }
}

/** sum_t C_t · x^t by Horner's rule (public values). */
function evaluateCommitments(points: readonly GroupPoint[], x: number): GroupPoint {
  let acc = Point.ZERO
  for (let t = points.length - 1; t >= 0; t--) acc = mulPublic(acc, BigInt(x)).add(points[t]!)
  return acc
}

/**
 * Round 2 at member `member`: true if the share it received from the dealing's dealer is the
 * committed polynomial's value at its index. False means: publish a complaint against the
 * dealer. A malformed share (not a canonical scalar) is false too.
 */
export function checkShare(
  params: DkgParams,
  dealing: Dealing,
  member: number,
  share: Uint8Array,
): boolean {
  checkIndex('member', member, params.n)
  const value = scalarFromBytes(share)
  if (value === undefined) return false
  return mulSecret(G, value).equals(evaluateCommitments(dealingPoints(params, dealing), member))
}

/**
 * A complaint of `member` against the dealing's dealer, answered by the dealer revealing the
 * share in its feed: 'dealer-faulty' (the revealed share does not match its commitments, or
 * was not revealed: pass undefined) disqualifies the dealer; 'complaint-unfounded' keeps it,
 * and the member uses the revealed share.
 */
export function resolveComplaint(
  params: DkgParams,
  dealing: Dealing,
  member: number,
  revealed: Uint8Array | undefined,
): 'dealer-faulty' | 'complaint-unfounded' {
  if (revealed === undefined) return 'dealer-faulty'
  return checkShare(params, dealing, member, revealed) ? 'complaint-unfounded' : 'dealer-faulty'
}

/** A complaint published in round 2, and the dealer's answer in round 3 (if any). */
export interface Complaint {
  dealer: number
  member: number
  /** The share the dealer revealed in its feed to answer; undefined if it did not answer. */
  revealed?: Uint8Array
}

/**
 * The qualified dealers, by anyone from the feeds alone: every dealing that verifies, minus
 * each dealer with a complaint upheld (a revealed share that does not match, or no answer).
 * Sorted by dealer; a dealer with two dealings is left out entirely (it equivocated).
 */
export function qualifiedDealings(
  params: DkgParams,
  dealings: readonly Dealing[],
  complaints: readonly Complaint[] = [],
): Dealing[] {
  const count = new Map<number, number>()
  for (const d of dealings) count.set(d.dealer, (count.get(d.dealer) ?? 0) + 1)
  return dealings
    .filter((d) => {
      if (count.get(d.dealer) !== 1) return false
      try {
        verifyDealing(params, d)
      } catch {
        return false
      }
      return complaints.every(
        (c) =>
          c.dealer !== d.dealer ||
          resolveComplaint(params, d, c.member, c.revealed) === 'complaint-unfounded',
      )
    })
    .sort((a, b) => a.dealer - b.dealer)
}

/**
 * Round 3, by anyone: the key of the qualified dealings (each verified here; at least k of
 * them, distinct dealers), as the combined commitments.
 */
export function combineDealings(params: DkgParams, qualified: readonly Dealing[]): StatsKey {
  checkParams(params)
  if (qualified.length < params.k) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `${qualified.length} qualified dealings cannot make a ${params.k}-of-${params.n} key`,
    )
  }
  const seen = new Set<number>()
  const sums = Array.from({ length: params.k }, () => Point.ZERO)
  for (const dealing of qualified) {
    if (seen.has(dealing.dealer)) {
      throw new EhrlogError('ARGUMENT_INVALID', `member ${dealing.dealer} dealt twice`)
    }
    seen.add(dealing.dealer)
    verifyDealing(params, dealing)
    dealingPoints(params, dealing).forEach((p, t) => {
      sums[t] = sums[t]!.add(p)
    })
  }
  return { n: params.n, k: params.k, commitments: sums }
}

/** Member `member`'s secret share x_j: the sum of the shares from the qualified dealers. */
export function combineShares(shares: readonly Uint8Array[]): Uint8Array {
  let sum = 0n
  for (const [i, share] of shares.entries()) {
    const value = scalarFromBytes(share)
    if (value === undefined) throw new EhrlogError('ARGUMENT_INVALID', `share ${i} is not a scalar`)
    sum = mod(sum + value)
  }
  return scalarToBytes(sum)
}

/** The public key Y = C_0. */
export function publicKeyOf(key: StatsKey): GroupPoint {
  return key.commitments[0]!
}

/** X_j = x_j·G, from the combined commitments alone. */
export function sharePublicKey(key: StatsKey, member: number): GroupPoint {
  checkIndex('member', member, key.n)
  return evaluateCommitments(key.commitments, member)
}
