import { concatBytes } from '@noble/curves/utils.js'
import { ORIGIN_PATTERN } from '../layout.ts'
import { type HospitalCounters, publishedCells, type StatsBundle, WITHHELD } from './bundle.ts'
import { malformed } from './bundle-checks.ts'
import { COUNTER_COUNT, COUNTER_TABLE_VERSION, checkPeriod } from './counters.ts'
import { type DecryptionShare, PROOF_SIZE } from './decryption.ts'
import { MAX_MEMBERS } from './dkg.ts'
import {
  CIPHERTEXT_SIZE,
  type Ciphertext,
  ciphertextFromBytes,
  ciphertextToBytes,
} from './elgamal.ts'
import {
  type GroupPoint,
  POINT_SIZE,
  pointFromBytes,
  STATS_TAGS,
  shortText,
  tagged,
  u16,
} from './group.ts'
import { decodeKeyAnchors, encodeKeyAnchors } from './key-anchor.ts'

/*
 * The bytes of a statistics bundle (docs/format.md, "Private network statistics"): the
 * encoding and the decoding of structure and encodings only (verifyStatsBundle, bundle.ts,
 * checks the rest). The key anchors are an optional trailer (key-anchor.ts).
 */

const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

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
  return concatBytes(...parts, encodeKeyAnchors(bundle.keyAnchors ?? []))
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
  /** What is left (the optional key anchor trailer). */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.at)
    this.at = this.bytes.length
    return out
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
export interface BundleBytes {
  commitments: Uint8Array
  /** Each hospital's ciphertexts, C1 || C2 per cell. */
  hospitals: Uint8Array[]
  sum: Uint8Array
  /** Each share's points, one 32-byte encoding per published cell. */
  shares: Uint8Array[][]
}

/**
 * decodeStatsBundle, also giving where the points lie in the bytes, so that verifyStatsBundle
 * hashes and compares their encodings as read instead of encoding each point again. Internal to
 * the statistics code (not exported by index.ts).
 */
export function decodeWithBytes(bytes: Uint8Array): { bundle: StatsBundle; raw: BundleBytes } {
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
    throw malformed(
      'malformed',
      `${cells} cells, the v${COUNTER_TABLE_VERSION} counter table has ${COUNTER_COUNT}`,
    )
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
  const keyAnchors = decodeKeyAnchors(r.rest())
  return {
    bundle: {
      period,
      key: { n, k, commitments },
      hospitals,
      sum,
      totals,
      shares,
      ...(keyAnchors ? { keyAnchors } : {}),
    },
    raw,
  }
}
