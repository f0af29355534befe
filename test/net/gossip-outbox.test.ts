import { describe, expect, it } from 'vitest'
import { decodeGossipMessage, encodeBatchRecord } from '../../node/net/batch-codec.ts'
import { GossipOutbox } from '../../node/net/gossip-outbox.ts'
import type { FeedBatch } from '../../node/net/index.ts'
import { captureLogger, type LogLine } from './harness.ts'

const record = (treeSize: number, entryBytes: number) =>
  encodeBatchRecord({
    origin: 'hospital-a',
    entries: [new Uint8Array(entryBytes).fill(1)],
    head: {
      origin: 'hospital-a',
      treeSize,
      root: new Uint8Array(32),
      signature: new Uint8Array(64),
    },
  } satisfies FeedBatch)

describe('GossipOutbox', () => {
  it('packs the records queued while the streams drain into one message', async () => {
    const sent: Uint8Array[] = []
    let release!: () => void
    const blocked = new Promise<void>((resolve) => {
      release = resolve
    })
    const outbox = new GossipOutbox(
      async (m) => {
        sent.push(m)
      },
      () => blocked,
      captureLogger([]),
      { maxQueuedBytes: 1 << 20, targetMessageBytes: 64 * 1024 },
    )
    for (let i = 1; i <= 50; i++) outbox.enqueue(record(i, 300))
    release()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(sent).toHaveLength(1)
    expect(decodeGossipMessage(sent[0] as Uint8Array).map((b) => b.head.treeSize)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    )
    await outbox.stop()
  })

  it('splits at the target size and drops the oldest records past its bound, logging it', async () => {
    const sent: Uint8Array[] = []
    const logs: LogLine[] = []
    let release!: () => void
    const blocked = new Promise<void>((resolve) => {
      release = resolve
    })
    const outbox = new GossipOutbox(
      async (m) => {
        sent.push(m)
      },
      () => blocked,
      captureLogger(logs),
      { maxQueuedBytes: 20_000, targetMessageBytes: 8_000 },
    )
    for (let i = 1; i <= 100; i++) outbox.enqueue(record(i, 1000))
    expect(outbox.pendingBytes).toBeLessThanOrEqual(20_000)
    release()
    await new Promise((resolve) => setTimeout(resolve, 20))
    const sizes = sent.flatMap((m) => decodeGossipMessage(m).map((b) => b.head.treeSize))
    expect(sizes.at(-1)).toBe(100)
    expect(sizes[0]).toBeGreaterThan(1)
    expect(sizes).toEqual(Array.from({ length: sizes.length }, (_, i) => (sizes[0] as number) + i))
    expect(sent.length).toBeGreaterThan(1)
    expect(sent.every((m) => m.byteLength <= 8_000)).toBe(true)
    expect(
      logs.some(
        (l) => l.msg.startsWith('gossip outbox full') && l.dropped === (sizes[0] as number) - 1,
      ),
    ).toBe(true)
    await outbox.stop()
  })
})
