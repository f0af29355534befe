import { afterEach, describe, expect, it } from 'vitest'
import {
  appendAndPublish,
  makeNetwork,
  type TestNetwork,
  type TestNode,
  waitFor,
  waitForMesh,
} from './harness.ts'

describe('gossip', () => {
  let network: TestNetwork | undefined
  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('delivers a batch published at one node to the two others within seconds, byte-identical', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [TestNode, TestNode, TestNode]
    // A long anti-entropy period, so only gossip can deliver within the wait below.
    for (const n of network.nodes) await network.start(n, { syncIntervalMs: 600_000 })
    await waitForMesh(network)

    const accepted: string[] = []
    b.net?.onAccepted((batch, fromPeer) =>
      accepted.push(`${batch.origin}:${batch.head.treeSize}:${fromPeer}`),
    )
    const started = Date.now()
    await appendAndPublish(a, 25)
    await waitFor(
      'b and c to hold 25 entries of a',
      () => b.store.size('hospital-a') === 25 && c.store.size('hospital-a') === 25,
      5000,
    )
    const ms = Date.now() - started

    for (const replica of [b, c]) {
      expect(
        replica.store.entries('hospital-a').map((e) => Buffer.from(e).toString('hex')),
      ).toEqual(a.store.entries('hospital-a').map((e) => Buffer.from(e).toString('hex')))
    }
    expect(accepted).toHaveLength(1)
    expect(ms).toBeLessThan(5000)
    console.log(`gossip: 25 entries reached 2 peers in ${ms} ms`)
  })

  it('announces a batch too large for one message, and peers pull it by sync', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b'])
    const [a, b] = network.nodes as [TestNode, TestNode]
    for (const n of network.nodes) await network.start(n, { syncIntervalMs: 600_000 })
    await waitForMesh(network)
    await appendAndPublish(a, 4000) // about 1.5 MB: over the 1 MiB message cap
    await waitFor(
      'b to pull the announced batch',
      () => b.store.size('hospital-a') === 4000,
      10_000,
    )
    expect(b.logs.some((l) => l.msg === 'sync pulled entries' && l.reason === 'gap')).toBe(true)
  })
})
