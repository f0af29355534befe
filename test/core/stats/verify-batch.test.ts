import { beforeAll, describe, expect, it } from 'vitest'
import type { CosignedCheckpoint } from '../../../node/core/checkpoint.ts'
import { isEhrlogError } from '../../../node/core/errors.ts'
import {
  COUNTER_COUNT,
  decodeStatsBundle,
  encodeStatsBundle,
  G,
  makeDecryptionShare,
  publicKeyOf,
  type StatsBundle,
  sharePublicKey,
  statsContext,
  verifyDecryptionShare,
  verifyStatsBundle,
} from '../../../node/core/stats/index.ts'
import { verifyCheckpoint } from '../../../node/core/trust/index.ts'
import { anchoredStatsFixture, type StatsFixture } from '../../../scripts/bench/stats-fixture.ts'

/*
 * The verifier's shared arithmetic (bundle-checks.ts): the proofs checked with one table per
 * C1, all totals in one random linear combination, the anchors' checkpoint parsed once. Each
 * test shows it refuses exactly what a cell-by-cell, share-by-share check refuses, and names
 * the same thing. The bundles are anchored: a real network.json (BLS keys with proofs of
 * possession) and one checkpoint cosigned by a quorum over every hospital's feed.
 */

function refusal(fn: () => unknown): {
  code?: string
  details: Record<string, unknown>
  message: string
} {
  try {
    fn()
  } catch (err) {
    if (!isEhrlogError(err)) throw err
    return { code: err.code, details: err.details, message: err.message }
  }
  throw new Error('accepted')
}

describe('verifying an anchored bundle with shared arithmetic', () => {
  let f: StatsFixture
  let bytes: Uint8Array
  // 5 members, 3-of-5 key, members 1, 2, 4 and 5 decrypt (more than k: all four checked).
  beforeAll(async () => {
    f = await anchoredStatsFixture({ members: 5, feedSize: 37, shareFrom: [1, 2, 4, 5] })
    bytes = encodeStatsBundle(f.bundle)
  }, 120_000)

  const expectFor = () => ({
    period: f.period,
    publicKey: publicKeyOf(f.key).toBytes(),
    requireAnchors: true,
    checkCheckpoint: (c: CosignedCheckpoint) => void verifyCheckpoint(f.membership, c),
  })

  it('accepts it, checking the one checkpoint under all five anchors once', () => {
    const seen: CosignedCheckpoint[] = []
    const verified = verifyStatsBundle(bytes, {
      ...expectFor(),
      checkCheckpoint: (c) => {
        seen.push(c)
        verifyCheckpoint(f.membership, c)
      },
    })
    expect(seen).toHaveLength(1)
    expect(verified.checkpoints).toHaveLength(1)
    expect(verified.unanchored).toEqual([])
    expect(verified.sharesFrom).toEqual([1, 2, 4, 5])
    expect(verified.totals).toEqual(f.bundle.totals)
    expect(verified.publicKey).toEqual(publicKeyOf(f.key).toBytes())
  })

  it('reads a bundle handed in as a Node Buffer view into a larger pool', () => {
    const pooled = Buffer.concat([Buffer.alloc(7, 0xee), Buffer.from(bytes)]).subarray(7)
    expect(verifyStatsBundle(pooled, expectFor()).totals).toEqual(f.bundle.totals)
  })

  it('names a forged share among good ones (the proofs share one table of C1 multiples)', () => {
    const shares = f.bundle.shares.map((s) =>
      s.member === 4 ? { ...s, shares: s.shares.map((d, l) => (l === 17 ? d.add(G) : d)) } : s,
    )
    const r = refusal(() =>
      verifyStatsBundle(encodeStatsBundle({ ...f.bundle, shares }), expectFor()),
    )
    expect(r.code).toBe('INVALID_PROOF')
    expect(r.details).toMatchObject({ reason: 'share-forged', member: 4, members: [4] })
    expect(r.message).toContain('the decryption share of member 4 does not verify')
  })

  it('names both forged shares of a bundle with two', () => {
    // Member 2 replays member 1's points; member 5 swaps two of its cells.
    const shares = f.bundle.shares.map((s) => {
      if (s.member === 2) return { ...s, shares: f.bundle.shares[0]!.shares }
      if (s.member === 5) {
        const d = [...s.shares]
        ;[d[3], d[9]] = [d[9]!, d[3]!]
        return { ...s, shares: d }
      }
      return s
    })
    const r = refusal(() =>
      verifyStatsBundle(encodeStatsBundle({ ...f.bundle, shares }), expectFor()),
    )
    expect(r.details).toMatchObject({ reason: 'share-forged', member: 2, members: [2, 5] })
    expect(r.message).toContain('members 2, 5 do not verify')
  })

  it('a share whose proof is for another member is forged, and one share alone still checks', () => {
    const [one, two] = f.bundle.shares
    const relabelled = { ...two!, member: 3 }
    const shares = [one!, relabelled, ...f.bundle.shares.slice(2)]
    const r = refusal(() =>
      verifyStatsBundle(encodeStatsBundle({ ...f.bundle, shares }), expectFor()),
    )
    expect(r.details).toMatchObject({ reason: 'share-forged', members: [3] })
    const published = Array.from({ length: COUNTER_COUNT }, (_, l) => l)
    const context = statsContext(f.period, f.key, f.origins, f.bundle.sum, published)
    const c1s = f.bundle.sum.map((c) => c.c1)
    const fresh = makeDecryptionShare(context, 3, f.secretShares.get(3)!, c1s)
    const x3 = sharePublicKey(f.key, 3)
    expect(verifyDecryptionShare(context, x3, c1s, fresh)).toBe(true)
    expect(verifyDecryptionShare(context, x3, c1s, relabelled)).toBe(false)
    // With member 3's real share in place of member 2's, the bundle verifies.
    const withThree = [one!, fresh, ...f.bundle.shares.slice(2)]
    expect(
      verifyStatsBundle(encodeStatsBundle({ ...f.bundle, shares: withThree }), expectFor())
        .sharesFrom,
    ).toEqual([1, 3, 4, 5])
  })

  it('refuses totals that are wrong in ways that cancel in a plain sum, naming the first', () => {
    // +5 on cell 2 and -5 on cell 30: the unweighted sum of the cells would still hold.
    const totals = f.bundle.totals.map((t, l) => (l === 2 ? t! + 5 : l === 30 ? t! - 5 : t))
    const r = refusal(() =>
      verifyStatsBundle(encodeStatsBundle({ ...f.bundle, totals }), expectFor()),
    )
    expect(r.details).toMatchObject({ reason: 'total-mismatch', cell: 2 })
    const one = f.bundle.totals.map((t, l) => (l === 50 ? t! + 1 : t))
    const r2 = refusal(() =>
      verifyStatsBundle(encodeStatsBundle({ ...f.bundle, totals: one }), expectFor()),
    )
    expect(r2.details).toMatchObject({ reason: 'total-mismatch', cell: 50 })
  })

  it('refuses an anchor whose entry holds other ciphertexts, or points that do not decode', () => {
    // Swap two hospitals' blocks' anchors: each entry then holds the other's ciphertexts.
    const swapped: StatsBundle = {
      ...f.bundle,
      hospitals: f.bundle.hospitals.map((h, i) => ({
        ...h,
        anchor: f.bundle.hospitals[i === 0 ? 1 : i === 1 ? 0 : i]!.anchor,
      })),
    }
    const r = refusal(() => verifyStatsBundle(encodeStatsBundle(swapped), expectFor()))
    expect(r.details).toMatchObject({ reason: 'anchor-invalid', origin: f.origins[0] })
    // An entry whose ciphertext text is not canonical points: refused as an invalid body (the
    // text differs from the block's, so it is decoded and fails), never trusted.
    const anchor = f.bundle.hospitals[2]!.anchor
    const text = new TextDecoder().decode(anchor)
    const at = text.indexOf('"ciphertexts":"') + '"ciphertexts":"'.length
    const broken = new Uint8Array(anchor)
    broken.set(new TextEncoder().encode('ff'.repeat(32)), at)
    const bad: StatsBundle = {
      ...f.bundle,
      hospitals: f.bundle.hospitals.map((h, i) => (i === 2 ? { ...h, anchor: broken } : h)),
    }
    const r2 = refusal(() => verifyStatsBundle(encodeStatsBundle(bad), expectFor()))
    expect(r2.details).toMatchObject({ reason: 'anchor-invalid', origin: f.origins[2] })
    expect(r2.message).toMatch(/body is invalid: .*not two ristretto255 elements/)
  })

  it('refuses a checkpoint whose cosignature does not verify (checked once, still checked)', () => {
    const decoded = decodeStatsBundle(bytes)
    const text = new TextDecoder().decode(decoded.hospitals[0]!.anchor)
    const sig = /"signature":"([0-9a-f]{192})"/.exec(text)![1]!
    const flipped = `${sig.slice(0, 190)}${sig.slice(190) === '00' ? '01' : '00'}`
    const hospitals = decoded.hospitals.map((h) => ({
      ...h,
      anchor: new TextEncoder().encode(new TextDecoder().decode(h.anchor).replace(sig, flipped)),
    }))
    expect(() =>
      verifyStatsBundle(encodeStatsBundle({ ...decoded, hospitals }), expectFor()),
    ).toThrow()
  })

  it('checks the key anchors with the same checkpoint: derived key, one cosignature check', () => {
    const withKey = encodeStatsBundle({ ...f.bundle, keyAnchors: f.keyAnchors })
    expect(decodeStatsBundle(withKey).keyAnchors).toHaveLength(10)
    const seen: CosignedCheckpoint[] = []
    const { publicKey: _pinned, ...unpinned } = expectFor()
    const verified = verifyStatsBundle(withKey, {
      ...unpinned,
      requireKeyAnchors: true,
      checkCheckpoint: (c) => {
        seen.push(c)
        verifyCheckpoint(f.membership, c)
      },
    })
    expect(seen).toHaveLength(1)
    expect(verified.keyProvenance).toMatchObject({ generation: 1, qualified: [1, 2, 3, 4, 5] })
    expect(verified.keyProvenance!.attestedBy).toEqual(f.origins)
    expect(verified.totals).toEqual(f.bundle.totals)
    // Without them, required: refused; one dealing left out: refused, naming the dealers.
    expect(refusal(() => verifyStatsBundle(bytes, { requireKeyAnchors: true })).details).toEqual({
      reason: 'key-unanchored',
    })
    const short = encodeStatsBundle({ ...f.bundle, keyAnchors: f.keyAnchors.slice(0, -1) })
    const r = refusal(() => verifyStatsBundle(short, expectFor()))
    expect(r.details).toMatchObject({ reason: 'key-anchor-invalid' })
    expect(r.message).toContain('the qualified ones are 1, 2, 3, 4, 5')
  })
})
