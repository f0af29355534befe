import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  decodeGossipMessage,
  encodeBatchRecord,
  encodeGossipMessage,
} from '../../node/net/batch-codec.ts'
import { ByteWriter } from '../../node/net/bytes.ts'
import { type FeedBatch, LIMITS } from '../../node/net/index.ts'
import {
  decodeFrame,
  encodeFrame,
  entriesFrames,
  type SyncFrame,
} from '../../node/net/sync-frames.ts'

const head = (origin: string, treeSize: number) => ({
  origin,
  treeSize,
  root: new Uint8Array(32).fill(7),
  signature: new Uint8Array(64).fill(9),
})
const entry = (n: number) => new TextEncoder().encode(`{"entry":${n}}`)
const batch: FeedBatch = {
  origin: 'hospital-a',
  entries: [entry(1), entry(2), entry(3)],
  head: head('hospital-a', 12),
}
const announcement: FeedBatch = {
  origin: 'hospital-b',
  entries: [],
  head: head('hospital-b', 4000),
}

function expectMalformed(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    expect(isEhrlogError(err, 'ARGUMENT_INVALID'), String(err)).toBe(true)
    return
  }
  throw new Error('decoded malformed bytes')
}

describe('gossip message codec', () => {
  const bytes = encodeGossipMessage([encodeBatchRecord(batch), encodeBatchRecord(announcement)])

  it('round-trips batches and announcements', () => {
    expect(decodeGossipMessage(bytes)).toEqual([batch, announcement])
  })

  it('writes the layout of docs/protocol.md byte for byte (as ByteWriter lays it out)', () => {
    const big: FeedBatch = {
      origin: 'hospital-c',
      entries: Array.from({ length: 300 }, (_, i) => new Uint8Array(1 + ((i * 37) % 3000)).fill(i)),
      head: head('hospital-c', 2 ** 40),
    }
    const reference = (b: FeedBatch) => {
      const w = new ByteWriter()
        .shortString(b.head.origin)
        .u64(b.head.treeSize)
        .bytes(b.head.root)
        .bytes(b.head.signature)
        .u32(b.entries.length)
      for (const e of b.entries) w.u32(e.byteLength).bytes(e)
      return w.finish()
    }
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))
    const records = [batch, announcement, big].map(encodeBatchRecord)
    expect(records.map((r, i) => same(r, reference([batch, announcement, big][i]!)))).toEqual([
      true,
      true,
      true,
    ])
    const message = encodeGossipMessage(records)
    const w = new ByteWriter().u8(1).u16(3)
    for (const r of records) w.bytes(r)
    expect(same(message, w.finish())).toBe(true)
    // Each owns its bytes: not a view into a shared pool.
    for (const r of [...records, message]) expect(r.buffer.byteLength).toBe(r.byteLength)
    expect(decodeGossipMessage(message)).toEqual([batch, announcement, big])
  })

  it('refuses every truncation and any trailing byte', () => {
    for (let n = 0; n < bytes.byteLength; n++)
      expectMalformed(() => decodeGossipMessage(bytes.subarray(0, n)))
    expectMalformed(() => decodeGossipMessage(Uint8Array.from([...bytes, 0])))
  })

  it('refuses a wrong version, impossible counts, a bad origin and more entries than the tree', () => {
    expectMalformed(() => decodeGossipMessage(Uint8Array.from([2, ...bytes.subarray(1)])))
    expectMalformed(() => decodeGossipMessage(new ByteWriter().u8(1).u16(0).finish()))
    const huge = new ByteWriter().u8(1).u16(1).shortString('hospital-a').u64(5)
    huge.bytes(new Uint8Array(96)).u32(0xffffffff)
    expectMalformed(() => decodeGossipMessage(huge.finish()))
    const badOrigin = { ...batch, origin: 'Hospital A', head: head('Hospital A', 12) }
    expectMalformed(() => decodeGossipMessage(encodeGossipMessage([encodeBatchRecord(badOrigin)])))
    const tooMany = { ...batch, head: head('hospital-a', 2) }
    expectMalformed(() => decodeGossipMessage(encodeGossipMessage([encodeBatchRecord(tooMany)])))
    const bigSize = new ByteWriter().u8(1).u16(1).shortString('hospital-a')
    bigSize
      .bytes(Uint8Array.from([0, 0x20, 0, 0, 0, 0, 0, 0]))
      .bytes(new Uint8Array(96))
      .u32(0)
    expectMalformed(() => decodeGossipMessage(bigSize.finish()))
  })

  it('throws only ARGUMENT_INVALID on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (data) => {
        try {
          decodeGossipMessage(data)
        } catch (err) {
          return isEhrlogError(err, 'ARGUMENT_INVALID')
        }
        return true
      }),
      { numRuns: 2000 },
    )
  })
})

describe('sync frames', () => {
  const frames: SyncFrame[] = [
    {
      type: 'state',
      networkId: new Uint8Array(32).fill(1),
      sizes: new Map([
        ['hospital-a', 12],
        ['hospital-b', 0],
      ]),
    },
    { type: 'pull', origin: 'hospital-a', fromSeq: 13, maxEntries: 2000 },
    { type: 'entries', entries: [entry(1), entry(2)] },
    { type: 'head', head: head('hospital-a', 14) },
    { type: 'done' },
    { type: 'error', code: 'FORBIDDEN', message: 'peer x is not a member' },
  ]

  it.each(frames.map((f) => [f.type, f] as const))('round-trips %s', (_type, frame) => {
    expect(decodeFrame(encodeFrame(frame))).toEqual(frame)
  })

  it('refuses truncated frames, unknown types and seq 0', () => {
    for (const frame of frames.slice(0, 4)) {
      const bytes = encodeFrame(frame)
      for (let n = 0; n < bytes.byteLength; n++)
        expectMalformed(() => decodeFrame(bytes.subarray(0, n)))
    }
    expectMalformed(() => decodeFrame(Uint8Array.of(99)))
    expectMalformed(() =>
      decodeFrame(new ByteWriter().u8(2).shortString('hospital-a').u64(0).u32(10).finish()),
    )
  })

  it('splits a large batch into ENTRIES frames under the target size', () => {
    const entries = Array.from({ length: 1000 }, (_, i) => new Uint8Array(600).fill(i % 256))
    const out = [...entriesFrames(entries, LIMITS.targetSyncFrameBytes)]
    expect(out.length).toBeGreaterThan(1)
    const sizes = out.map((f) => encodeFrame(f).byteLength)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(LIMITS.targetSyncFrameBytes + 16)
    expect(out.flatMap((f) => (f.type === 'entries' ? f.entries : []))).toEqual(entries)
  })

  it('throws only ARGUMENT_INVALID on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        try {
          decodeFrame(data)
        } catch (err) {
          return isEhrlogError(err, 'ARGUMENT_INVALID')
        }
        return true
      }),
      { numRuns: 2000 },
    )
  })
})
