import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type CosignedCheckpoint,
  checkpointId,
  verifyCosignedCheckpoint,
} from '../../node/core/checkpoint.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import {
  addSignature,
  type MembershipChange,
  proposeChange,
  type SignedProposal,
} from '../../node/core/trust/index.ts'
import { checkpointKeysOf } from '../../node/core/trust/network-keys.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { MEMBERSHIP_DIR } from '../../node/membership/live-membership.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeMember } from '../core/trust/membership-chain-fixtures.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/** `change` on `node`'s newest version, signed by the admins of `signers` with their folders' keys. */
async function change(
  node: EhrlogNode,
  body: MembershipChange,
  signers: Array<{ name: string; dir: string }>,
): Promise<SignedProposal> {
  const base = node.membership.history.versions.at(-1)!
  let signed: SignedProposal = {
    proposal: proposeChange(base, signers[0]!.name, body),
    signatures: [],
  }
  for (const s of signers) {
    signed = addSignature(signed, s.name, (await openNodeDir(s.dir)).signingKey)
  }
  return signed
}

function verifiesUnder(node: EhrlogNode, cosigned: CosignedCheckpoint): number[] {
  const keys = node.membership.history.keysFor(cosigned.checkpoint.membership)
  return verifyCosignedCheckpoint(cosigned, checkpointKeysOf(keys))
}

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : String(err)
  }
}

describe('checkpoint rounds follow the membership (real nodes on loopback)', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('a member added and then removed: each next checkpoint is cosigned under the new version, older ones still verify', async () => {
    const { dirs } = await initNetwork(await tempDir())
    nodes = await startNodes(dirs)
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    const admins = [
      { name: 'hospital-a', dir: dirs[0]! },
      { name: 'hospital-b', dir: dirs[1]! },
    ]
    await a.ingest.submit([makeEvent(1), makeEvent(2)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 2))
    const v0 = await a.checkpoints.runRound()
    expect(v0.checkpoint.membership.version).toBe(0)

    // A fourth hospital (its node need not run): a quorum of version 0 (2 of 3) signs it.
    const d = await makeMember('hospital-d', '/ip4/127.0.0.1/tcp/9')
    const add = await change(a, { type: 'add', member: d.identity }, admins)
    for (const n of nodes) expect(n.membership.offer(add)).toBe(true)
    for (const n of nodes) expect(n.membership.current.version).toBe(0) // not before the cut

    await b.ingest.submit([makeEvent(3)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-b') === 1))
    // b proposes: it applies the change at its cut; a and c apply it when they see the proposal.
    const v1 = await b.checkpoints.runRound()
    expect(v1.checkpoint.membership.version).toBe(1)
    expect(toHex(v1.checkpoint.membership.hash)).toBe(b.membership.current.versionHash)
    expect(v1.checkpoint.feeds.map((f) => [f.origin, f.treeSize])).toEqual([
      ['hospital-a', 2],
      ['hospital-b', 1],
      ['hospital-c', 0],
      ['hospital-d', 0],
    ])
    // Version 1 has 4 members and a quorum of 3: all three running nodes signed.
    expect(verifiesUnder(c, v1)).toEqual([0, 1, 2])
    for (const n of nodes) {
      expect(n.membership.current.version).toBe(1)
      expect(n.membership.pending).toBeUndefined()
    }
    await waitFor('every node to adopt it', () =>
      nodes.every(
        (n) => checkpointId(n.checkpoints.latest()!.checkpoint) === checkpointId(v1.checkpoint),
      ),
    )
    // The applied changes (pending.json, the governance pool, may sit beside them).
    const applied = (await readdir(join(dirs[2]!, MEMBERSHIP_DIR))).filter((f) =>
      /^\d{6}\.json$/.test(f),
    )
    expect(applied).toEqual(['000001.json'])
    // The checkpoint of version 0 still verifies under version 0's keys, not under version 1's.
    expect(verifiesUnder(c, v0).length).toBeGreaterThanOrEqual(2)
    const v1Keys = checkpointKeysOf(c.membership.history.keysFor(v1.checkpoint.membership))
    expect(await codeOf(() => verifyCosignedCheckpoint(v0, v1Keys))).toBe('MEMBERSHIP_UNKNOWN')

    // A restarted node reads membership/ back and goes on under version 1.
    await c.stop()
    const [c2] = await startNodes([dirs[2]!])
    nodes[2] = c2!
    expect(c2!.membership.current.version).toBe(1)
    await waitFor('c back in the mesh', () =>
      a.net.peers().some((p) => p.name === 'hospital-c' && p.gossip),
    )

    // Remove hospital-d: a quorum of version 1 (3 of 4) signs; the next cut drops its feed.
    const remove = await change(a, { type: 'remove', name: 'hospital-d' }, [
      ...admins,
      { name: 'hospital-c', dir: dirs[2]! },
    ])
    for (const n of nodes) expect(n.membership.offer(remove)).toBe(true)
    await c2!.ingest.submit([makeEvent(4)])
    // Each applied change also records a membership entry in every node's own feed.
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-c') === c2!.store.size('hospital-c')),
    )
    const v2 = await c2!.checkpoints.runRound()
    expect(v2.checkpoint.membership.version).toBe(2)
    // hospital-d's feed stays in every later checkpoint, frozen (empty here: it never ran).
    expect(v2.checkpoint.feeds.map((f) => f.origin)).toEqual([
      'hospital-a',
      'hospital-b',
      'hospital-c',
      'hospital-d',
    ])
    expect(v2.checkpoint.feeds.find((f) => f.origin === 'hospital-d')?.treeSize).toBe(0)
    // A quorum of 2 can cosign before the third node has seen the proposal and applied the
    // change: the checks below read each node's history, so wait until every node holds it.
    await waitFor('every node to apply version 2', () =>
      nodes.every((n) => n.membership.current.version === 2),
    )
    // Back to 3 members and a majority quorum of 2.
    expect(verifiesUnder(a, v2).length).toBeGreaterThanOrEqual(2)
    expect(a.membership.current.quorum).toBe(2)
    // Every checkpoint verifies under the version it names.
    for (const cp of [v0, v1, v2]) expect(verifiesUnder(b, cp).length).toBeGreaterThanOrEqual(2)
  })

  it('a quorum change: the next round needs the new quorum', async () => {
    const { dirs } = await initNetwork(await tempDir())
    nodes = await startNodes(dirs)
    const [a, b] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    const raise = await change(a, { type: 'quorum', quorum: 3 }, [
      { name: 'hospital-a', dir: dirs[0]! },
      { name: 'hospital-b', dir: dirs[1]! },
    ])
    for (const n of nodes) n.membership.offer(raise)
    await a.ingest.submit([makeEvent(1)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 1))
    const v1 = await a.checkpoints.runRound()
    expect(v1.checkpoint.membership.version).toBe(1)
    expect(verifiesUnder(b, v1)).toEqual([0, 1, 2]) // all three: the quorum is 3 now
    // With one member down, two signatures are no longer a quorum.
    await nodes[2]!.stop()
    await b.ingest.submit([makeEvent(2)])
    await waitFor('replication', () => a.store.size('hospital-b') === 1)
    expect(await codeOf(() => a.checkpoints.runRound())).toBe('UNAVAILABLE')
  })
})
