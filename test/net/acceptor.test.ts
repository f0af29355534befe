import { describe, expect, it } from 'vitest'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { Acceptor } from '../../node/net/acceptor.ts'
import type { AcceptResult, FeedBatch, ReplicaStore } from '../../node/net/replica-store.ts'
import { TEST_VRF_PUBLIC_KEY_HEX } from '../helpers/fixtures.ts'
import { FeedWriter } from './feed-writer.ts'
import { captureLogger, type LogLine, makeIdentity } from './harness.ts'
import { MemoryReplicaStore } from './memory-replica-store.ts'

/**
 * A real in-memory replica whose answers are held until released: what a store does while
 * a batch is on its way to disk. It records when each batch was handed over.
 */
class HeldStore implements ReplicaStore {
  readonly handedOver: number[] = []
  readonly #release: Array<() => void> = []
  constructor(private readonly inner: MemoryReplicaStore) {}
  sizes() {
    return this.inner.sizes()
  }
  readBatches(origin: string, fromSeq: number, maxEntries: number) {
    return this.inner.readBatches(origin, fromSeq, maxEntries)
  }
  acceptBatch(batch: FeedBatch, fromPeer: string): Promise<AcceptResult> {
    this.handedOver.push(batch.head.treeSize)
    const result = this.inner.acceptBatch(batch, fromPeer)
    result.catch(() => {}) // handled once released
    return new Promise((resolve, reject) => {
      this.#release.push(() => result.then(resolve, reject))
    })
  }
  releaseAll(): void {
    for (const release of this.#release.splice(0)) release()
  }
}

async function setUp() {
  const { identity, feedKey } = await makeIdentity('hospital-a')
  const membership = Membership.fromJson({
    members: [identity],
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  })
  const inner = new MemoryReplicaStore(new Map([['hospital-a', ed25519RawPublicKey(feedKey)]]))
  const store = new HeldStore(inner)
  const lines: LogLine[] = []
  const acceptor = new Acceptor(store, membership, captureLogger(lines))
  return { writer: new FeedWriter('hospital-a', feedKey), store, inner, acceptor, lines }
}

describe('Acceptor', () => {
  it("hands an origin's next batch to the store before the one before it is durable", async () => {
    const { writer, store, acceptor } = await setUp()
    const batches = [writer.next(3), writer.next(2), writer.next(4)]
    const outcomes = batches.map((b) => acceptor.accept(b, 'peer-1'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    // All three taken in arrival order while none has settled.
    expect(store.handedOver).toEqual([3, 5, 9])
    let settled = false
    void Promise.all(outcomes).then(() => {
      settled = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(settled).toBe(false)
    store.releaseAll()
    expect(await Promise.all(outcomes)).toEqual([
      { status: 'stored', treeSize: 3 },
      { status: 'stored', treeSize: 5 },
      { status: 'stored', treeSize: 9 },
    ])
    await acceptor.idle()
  })

  it('a rejected batch leaves the next one a gap, and idle() waits for every accept', async () => {
    const { writer, store, inner, acceptor, lines } = await setUp()
    const good = writer.next(2)
    const bad = writer.next(2)
    const after = writer.next(2)
    const forged: FeedBatch = {
      ...bad,
      head: { ...bad.head, signature: bad.head.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) },
    }
    const outcomes = [good, forged, after].map((b) => acceptor.accept(b, 'peer-1'))
    let idle = false
    const waiting = acceptor.idle().then(() => {
      idle = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(idle).toBe(false)
    store.releaseAll()
    const [first, second, third] = await Promise.all(outcomes)
    expect(first).toEqual({ status: 'stored', treeSize: 2 })
    expect(second?.status).toBe('rejected')
    expect(third).toEqual({ status: 'gap', have: 2, want: 5 })
    await waiting
    expect((await inner.sizes()).get('hospital-a')).toBe(2)
    expect(lines.some((l) => l.msg === 'rejected batch' && l.peer === 'peer-1')).toBe(true)
  })
})
