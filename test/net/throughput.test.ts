import { afterEach, describe, expect, it } from 'vitest'
import {
  appendAndPublish,
  makeNetwork,
  type TestNetwork,
  type TestNode,
  waitFor,
  waitForMesh,
} from './harness.ts'

// Measurements, printed, not asserted on timing: all nodes share one Node.js event loop here
// (2 vCPUs), so every entry is verified three or four times on one thread.
describe('throughput', () => {
  let network: TestNetwork | undefined
  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('measures gossip and sync replication rates', async () => {
    const total = 20_000
    const batchSize = 100
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'])
    const [a, b, c, d] = network.nodes as [TestNode, TestNode, TestNode, TestNode]
    for (const n of [a, b, c]) await network.start(n, { syncIntervalMs: 600_000 })
    await waitForMesh(network)

    const started = performance.now()
    for (let i = 0; i < total / batchSize; i++) await appendAndPublish(a, batchSize)
    const appendedMs = performance.now() - started
    await waitFor(
      'b and c to hold every entry',
      () => b.store.size('hospital-a') === total && c.store.size('hospital-a') === total,
      60_000,
    )
    const gossipMs = performance.now() - started
    const viaGossip = [b, c].map(
      (n) => n.store.received.filter((r) => r.fromPeer !== 'self').length,
    )

    const syncStarted = performance.now()
    await network.start(d, { syncIntervalMs: 600_000 })
    await waitFor('d to catch up', () => d.store.size('hospital-a') === total, 60_000)
    const syncMs = performance.now() - syncStarted

    expect(d.store.entries('hospital-a').at(-1)).toEqual(a.store.entries('hospital-a').at(-1))
    const rate = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US')
    console.log(
      [
        `gossip: ${total} entries (${total / batchSize} batches of ${batchSize}, ~${a.store.entries('hospital-a')[0]?.byteLength} B each) from a to b and c`,
        `  appended+published in ${Math.round(appendedMs)} ms; on both peers after ${Math.round(gossipMs)} ms: ${rate(total, gossipMs)} entries/s per peer`,
        `  batches stored from the network at b, c: ${viaGossip.join(', ')}`,
        `sync: fresh node d pulled ${total} entries in ${Math.round(syncMs)} ms (incl. start and dial): ${rate(total, syncMs)} entries/s`,
      ].join('\n'),
    )
  }, 180_000)
})
