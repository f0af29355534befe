import { afterEach, describe, expect, it } from 'vitest'
import { checkpointId, verifyCosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { fromHex } from '../../node/core/hex.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { CheckpointLog } from '../../node/store/index.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

describe('checkpoint rounds with three real nodes', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('a round cosigns every replica in one aggregate signature, stored on every node', async () => {
    const { dirs, membership } = await initNetwork(await tempDir())
    nodes = await startNodes(dirs)
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await a.ingest.submit([makeEvent(1), makeEvent(2), makeEvent(3)])
    await b.ingest.submit([makeEvent(4)])
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-a') === 3 && n.store.size('hospital-b') === 1),
    )
    const started = performance.now()
    const cosigned = await a.checkpoints.runRound()
    console.log(`checkpoint round with 3 nodes: ${Math.round(performance.now() - started)} ms`)
    expect(cosigned.checkpoint.feeds.map((f) => [f.origin, f.treeSize])).toEqual([
      ['hospital-a', 3],
      ['hospital-b', 1],
      ['hospital-c', 0],
    ])
    const keys = membership.members.map((m) => fromHex(m.blsPublicKey, 48)!)
    const signers = verifyCosignedCheckpoint(cosigned, {
      networkId: fromHex(membership.networkId, 32)!,
      membership: { version: 0, hash: fromHex(membership.networkId, 32)! },
      blsKeys: keys,
    })
    expect(signers.length).toBeGreaterThanOrEqual(2)
    const id = checkpointId(cosigned.checkpoint)
    await waitFor('every node to store it', () =>
      nodes.every(
        (n) => n.checkpoints.latest() && checkpointId(n.checkpoints.latest()!.checkpoint) === id,
      ),
    )
    // Every node held every feed up to its cut when it adopted it, and says so from disk too.
    for (const n of nodes) {
      expect([...(n.checkpoints.latestHeld() ?? [])].sort()).toEqual([
        'hospital-a',
        'hospital-b',
        'hospital-c',
      ])
    }
    const stored = await new CheckpointLog(c.store).latestRecord()
    expect(stored && checkpointId(stored.cosigned.checkpoint)).toBe(id)
    expect([...(stored?.held ?? [])].sort()).toEqual(['hospital-a', 'hospital-b', 'hospital-c'])
    // the next round extends it
    await c.ingest.submit([makeEvent(5)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 1))
    const next = await b.checkpoints.runRound()
    expect(next.checkpoint.feeds.find((f) => f.origin === 'hospital-c')!.treeSize).toBe(1)
    expect(next.checkpoint.timeMs).toBeGreaterThan(cosigned.checkpoint.timeMs)
  })

  it('with one node down, the quorum needs a node that must first pull what it lacks', async () => {
    const { dirs } = await initNetwork(await tempDir())
    nodes = await startNodes(dirs.slice(0, 2))
    await nodes[0]!.ingest.submit(Array.from({ length: 50 }, (_, i) => makeEvent(i)))
    await waitFor('replication to b', () => nodes[1]!.store.size('hospital-a') === 50)
    await nodes[1]!.stop() // b down: a alone is not a quorum
    const [c] = await startNodes([dirs[2]!], { syncIntervalMs: 60_000 })
    nodes.push(c!)
    await waitFor('a and c connected', () =>
      nodes[0]!.net.peers().some((p) => p.name === 'hospital-c' && p.gossip),
    )
    const cosigned = await nodes[0]!.checkpoints.runRound()
    expect(cosigned.checkpoint.feeds.find((f) => f.origin === 'hospital-a')!.treeSize).toBe(50)
    expect(c!.store.size('hospital-a')).toBe(50) // c signed, so it held exactly those entries
  })
})
