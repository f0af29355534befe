import { bytesToNumberLE } from '@noble/curves/utils.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { EhrlogError } from '../errors.ts'
import type { BundleRefusal } from './bundle.ts'
import { COUNTER_NAMES } from './counters.ts'
import {
  combineDecryptionShares,
  type DecryptionShare,
  forgedDecryptionShares,
  msmPublic,
} from './decryption.ts'
import { type StatsKey, sharePublicKey } from './dkg.ts'
import { G, type GroupPoint, lagrangeAtZero, mod, mulPublic } from './group.ts'

/*
 * The checks of a statistics bundle that cost group operations (docs/architecture.md,
 * "Checking a bundle"): every decryption share's proof, and every published total. Each names
 * what is wrong exactly as a one-by-one check would; only the arithmetic is shared.
 */

export function malformed(
  reason: BundleRefusal,
  message: string,
  details: Record<string, unknown> = {},
): EhrlogError {
  return new EhrlogError('FILE_INVALID', `statistics bundle: ${message}`, {
    details: { reason, ...details },
  })
}

export function wrong(
  reason: BundleRefusal,
  message: string,
  details: Record<string, unknown> = {},
): EhrlogError {
  return new EhrlogError('INVALID_PROOF', `statistics bundle: ${message}`, {
    details: { reason, ...details },
  })
}

/**
 * At least k shares, member indexes ascending within 1..n, and every proof verifying against
 * its member's share public key. The first fault in share order decides the refusal, as a
 * share-by-share check would find it; a `share-forged` refusal names every forged share before
 * that point (`details.member` the first, `details.members` all of them).
 * `encoded[i]`: share i's points as read from the bundle (else they are encoded here).
 */
export function checkShares(
  key: StatsKey,
  context: Uint8Array,
  c1s: readonly GroupPoint[],
  shares: readonly DecryptionShare[],
  encoded?: readonly (readonly Uint8Array[])[],
): void {
  if (shares.length < key.k) {
    throw wrong(
      'too-few-shares',
      `${shares.length} decryption shares, want at least ${key.k} of ${key.n}`,
    )
  }
  let previous = 0
  let ordered = shares.length
  for (let i = 0; i < shares.length; i++) {
    const member = shares[i]!.member
    if (member <= previous || member > key.n) {
      ordered = i
      break
    }
    previous = member
  }
  const checked = shares.slice(0, ordered)
  const forged = forgedDecryptionShares(
    context,
    checked.map((s) => sharePublicKey(key, s.member)),
    c1s,
    checked,
    checked.map((s, i) => encoded?.[i] ?? s.shares.map((d) => d.toBytes())),
  ).map((i) => checked[i]!.member)
  if (forged.length === 1) {
    throw wrong(
      'share-forged',
      `the decryption share of member ${forged[0]} does not verify against its share public key`,
      { member: forged[0], members: forged },
    )
  }
  if (forged.length > 1) {
    throw wrong(
      'share-forged',
      `the decryption shares of members ${forged.join(', ')} do not verify against their share public keys`,
      { member: forged[0], members: forged },
    )
  }
  if (ordered < shares.length) {
    throw malformed(
      'malformed-share',
      `share member indexes must ascend within 1..${key.n}, got ${shares[ordered]!.member}`,
    )
  }
}

/**
 * Every published total t_i (cell `cells[i]`) has t_i·G = C2_i - Σ_j λ_j·D_j,i, checked for
 * all cells at once: with random 128-bit weights r_i, Σ r_i·C2_i = Σ_j λ_j·(Σ_i r_i·D_j,i) +
 * (Σ r_i·t_i)·G. If every cell holds so does the sum; if one does not, the sum holds with
 * probability 2^-128. When it fails, the cells are checked one by one to name the first wrong
 * one (`total-mismatch`). Public values only.
 */
export function checkTotals(
  c2s: readonly GroupPoint[],
  shares: readonly DecryptionShare[],
  totals: readonly number[],
  cells: readonly number[],
): void {
  const lambdas = lagrangeAtZero(shares.map((s) => s.member))
  const r = c2s.map(() => bytesToNumberLE(randomBytes(16)))
  const left = msmPublic(c2s, r)
  const perMember = shares.map((s) => msmPublic(s.shares, r))
  const weighted = mod(totals.reduce((acc, t, i) => acc + r[i]! * BigInt(t), 0n))
  const right = msmPublic(perMember, lambdas).add(mulPublic(G, weighted))
  if (left.equals(right)) return
  const points = combineDecryptionShares(c2s, shares)
  totals.forEach((t, i) => {
    if (!mulPublic(G, BigInt(t)).equals(points[i]!)) {
      const l = cells[i]!
      throw wrong(
        'total-mismatch',
        `total ${l} (${COUNTER_NAMES[l]}) says ${t}, which is not what the shares decrypt`,
        { cell: l },
      )
    }
  })
  // Unreachable (cells that all hold make the sum hold): never accept after a failed sum.
  throw wrong('total-mismatch', 'the totals are not what the shares decrypt')
}
