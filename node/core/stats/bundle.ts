import { concatBytes } from '@noble/curves/utils.js'
import type { CosignedCheckpoint } from '../checkpoint.ts'
import { ORIGIN_PATTERN } from '../layout.ts'
import { type AnchorCheckpoint, checkStatsAnchor } from './anchor.ts'
import { smallDiscreteLog } from './bsgs.ts'
import { checkShares, checkTotals, malformed, wrong } from './bundle-checks.ts'
import { COUNTER_COUNT, checkPeriod } from './counters.ts'
import { combineDecryptionShares, type DecryptionShare, PROOF_SIZE } from './decryption.ts'
import { MAX_MEMBERS, type StatsKey } from './dkg.ts'
import {
  CIPHERTEXT_SIZE,
  type Ciphertext,
  ciphertextFromBytes,
  ciphertextToBytes,
  sumVectors,
} from './elgamal.ts'
import {
  type GroupPoint,
  POINT_SIZE,
  pointFromBytes,
  STATS_TAGS,
  shortText,
  tagged,
  taggedDigest,
  u16,
} from './group.ts'
import { bytesHex } from './stats-entry.ts'

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

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

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
  return { period: input.period, key: input.key, hospitals, sum, totals, shares }
}

function compareOrigins(a: string, b: string): number {
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

/* ---------- bytes ---------- */

const MAGIC = tagged(STATS_TAGS.bundle)

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

export function encodeStatsBundle(bundle: StatsBundle): Uint8Array {
  const cells = bundle.sum.length
  const parts: Uint8Array[] = [
    MAGIC,
    shortText(bundle.period),
    u16(cells),
    Uint8Array.of(bundle.key.n, bundle.key.k),
    ...bundle.key.commitments.map((c) => c.toBytes()),
    u16(bundle.hospitals.length),
  ]
  for (const h of bundle.hospitals) {
    parts.push(
      shortText(h.origin),
      ...h.ciphertexts.map(ciphertextToBytes),
      u16(h.anchor.length),
      h.anchor,
    )
  }
  parts.push(...bundle.sum.map(ciphertextToBytes))
  parts.push(...bundle.totals.map((t) => u32(t === undefined ? WITHHELD : t)))
  parts.push(Uint8Array.of(bundle.shares.length))
  for (const s of bundle.shares) {
    parts.push(Uint8Array.of(s.member), ...s.shares.map((d) => d.toBytes()), s.proof)
  }
  return concatBytes(...parts)
}

class Reader {
  at = 0
  constructor(private readonly bytes: Uint8Array) {}
  take(n: number, what: string): Uint8Array {
    if (this.at + n > this.bytes.length) {
      throw malformed('malformed', `ends inside ${what} (byte ${this.at} of ${this.bytes.length})`)
    }
    const out = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return out
  }
  u8(what: string): number {
    return this.take(1, what)[0]!
  }
  u16(what: string): number {
    const b = this.take(2, what)
    return (b[0]! << 8) | b[1]!
  }
  u32(what: string): number {
    // byteOffset matters: a Node Buffer's slice() is a view into a shared pool, not a copy.
    const b = this.take(4, what)
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0)
  }
  text(what: string): string {
    const bytes = this.take(this.u8(what), what)
    try {
      return fromUtf8.decode(bytes)
    } catch {
      throw malformed('malformed', `${what} is not UTF-8`)
    }
  }
  point(what: string): GroupPoint {
    const p = pointFromBytes(this.take(POINT_SIZE, what))
    if (!p) throw malformed('malformed-share', `${what} is not a ristretto255 element`)
    return p
  }
  ciphertext(what: string, details: Record<string, unknown>): Ciphertext {
    const c = ciphertextFromBytes(this.take(CIPHERTEXT_SIZE, what))
    if (!c)
      throw malformed('malformed-ciphertext', `${what} is not two ristretto255 elements`, details)
    return c
  }
  end(): void {
    if (this.at !== this.bytes.length) {
      throw malformed('malformed', `${this.bytes.length - this.at} bytes after the end`)
    }
  }
}

/** Parses the bytes (structure and encodings only; verifyStatsBundle checks the rest). */
export function decodeStatsBundle(bytes: Uint8Array): StatsBundle {
  return decodeWithBytes(bytes).bundle
}

/** Where the bundle's points lie in its bytes: their encodings, hashed as read. */
interface BundleBytes {
  commitments: Uint8Array
  /** Each hospital's ciphertexts, C1 || C2 per cell. */
  hospitals: Uint8Array[]
  sum: Uint8Array
  /** Each share's points, one 32-byte encoding per published cell. */
  shares: Uint8Array[][]
}

function decodeWithBytes(bytes: Uint8Array): { bundle: StatsBundle; raw: BundleBytes } {
  const r = new Reader(bytes)
  const from = (start: number) => bytes.subarray(start, r.at)
  const magic = r.take(MAGIC.length, 'the magic')
  if (!magic.every((b, i) => b === MAGIC[i])) {
    throw malformed('malformed', `does not start with ${STATS_TAGS.bundle}`)
  }
  const period = r.text('the period')
  try {
    checkPeriod(period)
  } catch {
    throw malformed(
      'malformed',
      `the period "${period}" is not a period like 2026-11 or 2026-11-03`,
    )
  }
  const cells = r.u16('the cell count')
  if (cells !== COUNTER_COUNT) {
    throw malformed('malformed', `${cells} cells, the v1 counter table has ${COUNTER_COUNT}`)
  }
  const n = r.u8('the member count')
  const k = r.u8('the threshold')
  if (n < 1 || n > MAX_MEMBERS || k < 1 || k > n) throw malformed('malformed', `a ${k}-of-${n} key`)
  let start = r.at
  const commitments = Array.from({ length: k }, (_, t) => r.point(`key commitment ${t}`))
  const raw: BundleBytes = { commitments: from(start), hospitals: [], sum: bytes, shares: [] }
  const hospitalCount = r.u16('the hospital count')
  const hospitals: HospitalCounters[] = []
  for (let h = 0; h < hospitalCount; h++) {
    const origin = r.text(`hospital ${h}'s name`)
    if (!ORIGIN_PATTERN.test(origin)) {
      throw malformed('malformed', `hospital ${h}'s name is not a node name like hospital-a`)
    }
    start = r.at
    const ciphertexts = Array.from({ length: cells }, (_, l) =>
      r.ciphertext(`${origin}'s ciphertext ${l}`, { origin, cell: l }),
    )
    raw.hospitals.push(from(start))
    const anchor = r.take(r.u16(`${origin}'s anchor length`), `${origin}'s anchor`)
    hospitals.push({ origin, ciphertexts, anchor })
  }
  start = r.at
  const sum = Array.from({ length: cells }, (_, l) =>
    r.ciphertext(`sum ciphertext ${l}`, { cell: l }),
  )
  raw.sum = from(start)
  const totals = Array.from({ length: cells }, (_, l) => {
    const t = r.u32(`total ${l}`)
    return t === WITHHELD ? undefined : t
  })
  const published = publishedCells(totals).length
  const shareCount = r.u8('the share count')
  const shares: DecryptionShare[] = []
  for (let s = 0; s < shareCount; s++) {
    const member = r.u8(`share ${s}'s member`)
    const encodings: Uint8Array[] = []
    const points = Array.from({ length: published }, (_, i) => {
      start = r.at
      const p = r.point(`member ${member}'s decryption share ${i}`)
      encodings.push(from(start))
      return p
    })
    raw.shares.push(encodings)
    shares.push({
      member,
      shares: points,
      proof: r.take(PROOF_SIZE, `member ${member}'s proof`).slice(),
    })
  }
  r.end()
  return { bundle: { period, key: { n, k, commitments }, hospitals, sum, totals, shares }, raw }
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
  // Anchors usually share one checkpoint: parsed and identified once per distinct text.
  const seen = new Map<string, AnchorCheckpoint>()
  b.hospitals.forEach((h, i) => {
    if (h.anchor.length === 0) {
      unanchored.push(h.origin)
      return
    }
    const { cosigned, id } = checkStatsAnchor(
      h.origin,
      b.period,
      bytesHex(raw.hospitals[i]!),
      h.anchor,
      seen,
    )
    checkpoints.set(id, cosigned)
  })
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
  }
}
