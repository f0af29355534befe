import { generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { addSignature, proposeChange, type SignedProposal } from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { RetiredKeyIncident } from '../../node/integrity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

describe('a rotated-out Ed25519 key (real nodes on loopback)', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('signs what is before the cut; past the cut its heads are refused and raise an incident naming the origin and the key', async () => {
    const { dirs } = await initNetwork(await tempDir())
    const retired: RetiredKeyIncident[] = []
    nodes = await startNodes(dirs, { onRetiredKey: (i) => retired.push(i) })
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await c.ingest.submit([makeEvent(1), makeEvent(2)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 2))
    const before = await a.checkpoints.runRound()

    // hospital-c's key is declared lost: a quorum (a and b) rotates it to a new one.
    const oldKey = toHex((await openNodeDir(dirs[2]!)).signingPublicKey)
    const newKey = toHex(ed25519RawPublicKey(generateKeyPairSync('ed25519').privateKey))
    let rotate: SignedProposal = {
      proposal: proposeChange(a.membership.history.versions[0]!, 'hospital-a', {
        type: 'rotate-ed25519',
        name: 'hospital-c',
        ed25519PublicKey: newKey,
        oldKey: 'lost',
      }),
      signatures: [],
    }
    for (const dir of dirs.slice(0, 2)) {
      const id = await openNodeDir(dir)
      rotate = addSignature(rotate, id.config.name, id.signingKey)
    }
    for (const n of nodes) n.membership.offer(rotate)
    const cut = await a.checkpoints.runRound()
    expect(cut.checkpoint.membership.version).toBe(1)
    expect(cut.checkpoint.feeds.find((f) => f.origin === 'hospital-c')!.treeSize).toBe(2)
    await waitFor('a and b to adopt the cut', () =>
      [a, b].every((n) => n.checkpoints.latest()?.checkpoint.membership.version === 1),
    )

    // c's node holds its own feed: its folder has no new key, and the old one may sign nothing
    // past the cut. A thief of the old key runs no such hold: lifting it plays the thief.
    expect(c.store.appendHoldOf('hospital-c')).toMatch(/keys-next\.enc does not hold/)
    c.store.releaseAppends('hospital-c', 'own-rotation')
    // The old key signs a third entry: a and b refuse it and raise the incident.
    await c.ingest.submit([makeEvent(3)])
    await waitFor('the incident on a and b', () => retired.length >= 2)
    for (const incident of retired) {
      expect(incident).toMatchObject({
        kind: 'rotated-out-key',
        origin: 'hospital-c',
        evidence: { retiredKey: oldKey, retiredAfter: 2, version: 1, treeSize: 3 },
      })
    }
    expect(a.store.size('hospital-c')).toBe(2)
    expect(b.store.size('hospital-c')).toBe(2)
    // What the old key signed before the cut stays, and the checkpoint before still verifies.
    expect((await a.store.verify()).ok).toBe(true)
    expect(a.membership.history.keysFor(before.checkpoint.membership).version).toBe(0)
  })
})
