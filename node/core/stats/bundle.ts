import { concatBytes } from '@noble/curves/utils.js'
import type { CosignedCheckpoint } from '../checkpoint.ts'
import { type AnchorCheckpoint, checkStatsAnchor } from './anchor.ts'
import { smallDiscreteLog } from './bsgs.ts'
import { checkShares, checkTotals, malformed, wrong } from './bundle-checks.ts'
import { decodeWithBytes } from './bundle-codec.ts'
import { COUNTER_COUNT } from './counters.ts'
import { combineDecryptionShares, type DecryptionShare } from './decryption.ts'
import type { StatsKey } from './dkg.ts'
import { type Ciphertext, ciphertextToBytes, sumVectors } from './elgamal.ts'
import { POINT_SIZE, STATS_TAGS, shortText, taggedDigest, u16 } from './group.ts'
import { type KeyProvenance, keyProvenanceOf } from './key-anchor.ts'
import { bytesHex } from './stats-entry.ts'

export { malformed } from './bundle-checks.ts'
export { decodeStatsBundle, encodeStatsBundle } from './bundle-codec.ts'

/*
 * The statistics bundle (docs/format.md, "Private network statistics"): everything a verifier
 * needs, with no secret, to check a group's totals for one period: the key's commitments, each
 * hospital's encrypted counters, their sum, the members' decryption shares with proofs, and
 * the totals. verifyStatsBundle checks it all and names the first thing that is wrong.
 */

/** A total is a u32; this value marks a cell withheld for being under the policy's minimum. */
export const WITHHELD = 0xffffffff
export const MAX_TOTAL = WITHHELD - 1

export interface HospitalCounters {
  origin: string
  ciphertexts: Ciphertext[]
  /**
   * Proof that the ciphertexts are the origin's `counters` entry under a cosigned checkpoint
   * (anchor.ts); empty when the bundle was made without one (then listed as unanchored).
   */
  anchor: Uint8Array
}

export interface StatsBundle {
  period: string
  key: StatsKey
  /** Sorted by origin (byte order of UTF-8), no repeats, at least 2. */
  hospitals: HospitalCounters[]
  /** Cell-wise sum of the hospitals' ciphertexts. */
  sum: Ciphertext[]
  /** One per cell; undefined = withheld. */
  totals: (number | undefined)[]
  /** Over the published cells only, in cell order; members ascending, at least k. */
  shares: DecryptionShare[]
  /**
   * The key's provenance (key-anchor.ts): anchored `dkg-key` and `dkg-dealing` entries, in the
   * optional trailer; absent or empty in bundles made without them.
   */
  keyAnchors?: Uint8Array[]
}

export type BundleRefusal =
  | 'malformed'
  | 'malformed-ciphertext'
  | 'malformed-share'
  | 'wrong-period'
  | 'wrong-key'
  | 'too-few-hospitals'
  | 'anchor-invalid'
  | 'unanchored'
  | 'sum-mismatch'
  | 'too-few-shares'
  | 'share-forged'
  | 'total-mismatch'
  | 'key-anchor-invalid'
  | 'key-unanchored'

const utf8 = new TextEncoder()

/** The indexes of the published cells. */
export function publishedCells(totals: readonly (number | undefined)[]): number[] {
  return totals.flatMap((t, l) => (t === undefined ? [] : [l]))
}

/**
 * The digest every decryption proof starts its transcript with: period, key, the hospitals (in
 * bundle order), the sum ciphertexts and which cells are published. A share made for another
 * period, key, group of hospitals or sum fails: members make shares only for a group the
 * policy allows (policy.ts), and the proof binds them to it.
 */
export function statsContext(
  period: string,
  key: StatsKey,
  origins: readonly string[],
  sum: readonly Ciphertext[],
  published: readonly number[],
): Uint8Array {
  return contextOfBytes(
    period,
    key,
    concatBytes(...key.commitments.map((c) => c.toBytes())),
    origins,
    sum.length,
    concatBytes(...sum.map(ciphertextToBytes)),
    published,
  )
}

/** statsContext from the commitments' and sum's encodings as read (not encoded again). */
function contextOfBytes(
  period: string,
  key: StatsKey,
  commitments: Uint8Array,
  origins: readonly string[],
  cells: number,
  sum: Uint8Array,
  published: readonly number[],
): Uint8Array {
  return taggedDigest(
    STATS_TAGS.context,
    shortText(period),
    Uint8Array.of(key.n, key.k),
    commitments,
    u16(origins.length),
    ...origins.map(shortText),
    u16(cells),
    sum,
    u16(published.length),
    ...published.map(u16),
  )
}

/**
 * For the combiner: checks every share, combines them and solves each published cell's total
 * (baby-step giant-step, < 2^32). Refuses a forged share exactly as the verifier would.
 */
export function assembleStatsBundle(input: {
  period: string
  key: StatsKey
  hospitals: HospitalCounters[]
  published: readonly number[]
  shares: DecryptionShare[]
  keyAnchors?: Uint8Array[]
}): StatsBundle {
  const hospitals = [...input.hospitals].sort((a, b) => compareOrigins(a.origin, b.origin))
  const sum = sumVectors(
    hospitals.map((h) => h.ciphertexts),
    COUNTER_COUNT,
  )
  const context = statsContext(
    input.period,
    input.key,
    hospitals.map((h) => h.origin),
    sum,
    input.published,
  )
  const shares = [...input.shares].sort((a, b) => a.member - b.member)
  checkShares(
    input.key,
    context,
    input.published.map((l) => sum[l]!.c1),
    shares,
  )
  const points = combineDecryptionShares(
    input.published.map((l) => sum[l]!.c2),
    shares,
  )
  const totals: (number | undefined)[] = new Array(COUNTER_COUNT).fill(undefined)
  input.published.forEach((l, i) => {
    const t = smallDiscreteLog(points[i]!)
    if (t > MAX_TOTAL) throw wrong('total-mismatch', `cell ${l} totals ${t}, more than a u32 holds`)
    totals[l] = t
  })
  return {
    period: input.period,
    key: input.key,
    hospitals,
    sum,
    totals,
    shares,
    ...(input.keyAnchors?.length ? { keyAnchors: input.keyAnchors } : {}),
  }
}

function compareOrigins(a: string, b: string): number {
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

export interface VerifiedStats {
  period: string
  origins: string[]
  /** The public key (hex), to compare with the network's. */
  publicKey: Uint8Array
  totals: (number | undefined)[]
  sharesFrom: number[]
  /** Hospitals whose block has no anchor (their ciphertexts are not shown to be in a feed). */
  unanchored: string[]
  /** The cosigned checkpoints the anchors rest on (cosignatures checked by `checkCheckpoint`). */
  checkpoints: CosignedCheckpoint[]
  /** When the bundle carries key anchors: the key derived from them, and who attested it. */
  keyProvenance?: KeyProvenance
}

/**
 * Checks a bundle with no secret: the bytes, the period and key the caller expects (when
 * given; the key must come from a trusted source such as network.json, not from the bundle),
 * that the sum is the sum, that every decryption share verifies against its member's share
 * public key, and that each published total t has t·G = C2 - x·C1. Throws FILE_INVALID
 * (malformed) or INVALID_PROOF with `details.reason` a BundleRefusal.
 */
export function verifyStatsBundle(
  bytes: Uint8Array,
  expect: {
    period?: string
    publicKey?: Uint8Array
    /** Refuse a hospital block without an anchor (`unanchored`). */
    requireAnchors?: boolean
    /** Refuse a bundle whose key is not derived from anchored entries (`key-unanchored`). */
    requireKeyAnchors?: boolean
    /** Checks each cosigned checkpoint the anchors rest on (e.g. against network.json); throws. */
    checkCheckpoint?: (cosigned: CosignedCheckpoint) => void
  } = {},
): VerifiedStats {
  const { bundle: b, raw } = decodeWithBytes(bytes)
  if (expect.period !== undefined && b.period !== expect.period) {
    throw wrong('wrong-period', `is for period ${b.period}, not ${expect.period}`, {
      period: b.period,
    })
  }
  const publicKey = raw.commitments.slice(0, POINT_SIZE)
  if (expect.publicKey !== undefined && !expect.publicKey.every((x, i) => x === publicKey[i])) {
    throw wrong('wrong-key', 'is under another statistics key than the one expected')
  }
  if (b.hospitals.length < 2) {
    throw wrong(
      'too-few-hospitals',
      `covers ${b.hospitals.length} hospital(s); a total covers at least 2`,
    )
  }
  for (let h = 1; h < b.hospitals.length; h++) {
    if (compareOrigins(b.hospitals[h - 1]!.origin, b.hospitals[h]!.origin) >= 0) {
      throw malformed(
        'malformed',
        `hospitals must be sorted by name without repeats (${b.hospitals[h]!.origin})`,
      )
    }
  }
  const unanchored: string[] = []
  const checkpoints = new Map<string, CosignedCheckpoint>()
  const generations = new Map<string, number>()
  // Anchors usually share one checkpoint: parsed and identified once per distinct text.
  const seen = new Map<string, AnchorCheckpoint>()
  b.hospitals.forEach((h, i) => {
    if (h.anchor.length === 0) {
      unanchored.push(h.origin)
      return
    }
    const anchored = checkStatsAnchor(
      h.origin,
      b.period,
      bytesHex(raw.hospitals[i]!),
      h.anchor,
      seen,
    )
    checkpoints.set(anchored.checkpointId, anchored.cosigned)
    if (anchored.body.type === 'counters') generations.set(h.origin, anchored.body.generation)
  })
  const keyProvenance = keyProvenanceOf(b, generations, expect.requireKeyAnchors, seen)
  // The key anchors' checkpoints went through `seen` too: their ids are there.
  for (const { cosigned, id } of seen.values()) checkpoints.set(id, cosigned)
  if (expect.requireAnchors && unanchored.length > 0) {
    throw wrong(
      'unanchored',
      `${unanchored.join(', ')} carry no anchor into a cosigned checkpoint`,
      {
        origins: unanchored,
      },
    )
  }
  for (const cosigned of checkpoints.values()) expect.checkCheckpoint?.(cosigned)
  const sum = sumVectors(
    b.hospitals.map((h) => h.ciphertexts),
    b.sum.length,
  )
  sum.forEach((c, l) => {
    if (!c.c1.equals(b.sum[l]!.c1) || !c.c2.equals(b.sum[l]!.c2)) {
      throw wrong(
        'sum-mismatch',
        `sum ciphertext ${l} is not the sum of the hospitals' ciphertexts`,
        { cell: l },
      )
    }
  })
  const published = publishedCells(b.totals)
  const context = contextOfBytes(
    b.period,
    b.key,
    raw.commitments,
    b.hospitals.map((h) => h.origin),
    b.sum.length,
    raw.sum,
    published,
  )
  checkShares(
    b.key,
    context,
    published.map((l) => b.sum[l]!.c1),
    b.shares,
    raw.shares,
  )
  checkTotals(
    published.map((l) => b.sum[l]!.c2),
    b.shares,
    published.map((l) => b.totals[l]!),
    published,
  )
  return {
    period: b.period,
    origins: b.hospitals.map((h) => h.origin),
    publicKey,
    totals: b.totals,
    sharesFrom: b.shares.map((s) => s.member),
    unanchored,
    checkpoints: [...checkpoints.values()],
    ...(keyProvenance ? { keyProvenance } : {}),
  }
}
