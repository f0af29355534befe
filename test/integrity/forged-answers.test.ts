import { describe, expect, it } from 'vitest'
import { type EncodedEntry, makeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { hashLeaf, MemoryTree, MerkleBuilder } from '../../node/core/merkle/index.ts'
import { type SignedTreeHead, signTreeHead } from '../../node/core/tree-head.ts'
import {
  type FeedRepairOutcome,
  type RepairPeer,
  repairFromPeers,
  repairSourceOf,
} from '../../node/integrity/index.ts'
import { silentLogger } from '../../node/logger.ts'
import type { RepairRequest, RepairResponse } from '../../node/net/index.ts'
import { completedNodes, type KnownHead, type LogStore } from '../../node/store/index.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const ORIGIN = 'hospital-a'
const A = makeSigner(ORIGIN)
const MALLORY = makeSigner(ORIGIN) // same name, another key: not the origin's

/** A peer answering from a real replica, in process (the transport is tested elsewhere). */
function honestPeer(name: string, store: LogStore): RepairPeer {
  const source = repairSourceOf(store)
  return {
    name,
    async request(req: RepairRequest): Promise<RepairResponse> {
      const entries: RepairResponse['entries'] = new Map()
      for (const [first, last] of req.ranges) {
        for (let seq = first; seq <= last; seq++) {
          const proven = await source.entryWithProof(req.origin, seq, req.treeSize)
          if (proven) entries.set(seq, proven)
        }
      }
      return { head: await source.headAt(req.origin, req.treeSize), entries }
    },
  }
}

/** A peer that answers every request for `seq` with `entry`, `proof` and `head`. */
function forger(
  name: string,
  answer: (req: RepairRequest) => { entry: Uint8Array; proof: Uint8Array[]; head?: SignedTreeHead },
): RepairPeer {
  return {
    name,
    async request(req) {
      const { entry, proof, head } = answer(req)
      const entries: RepairResponse['entries'] = new Map()
      for (const [first, last] of req.ranges)
        for (let seq = first; seq <= last; seq++) entries.set(seq, { bytes: entry, proof })
      return { head, entries }
    },
  }
}

describe('repair believes only data proven into a trusted root', () => {
  const tempDir = useTempDirs()

  /** An origin store with 3 batches of 4, and a replica of it whose entry 5 was flipped on disk. */
  async function damagedReplica() {
    const origin = openStore(await tempDir(), makeStoreKeys(), [A])
    const replicaPath = await tempDir()
    const replicaKeys = makeStoreKeys()
    let replica = openStore(replicaPath, replicaKeys, [A])
    await origin.open()
    await replica.open()
    const authentic: EncodedEntry[] = []
    for (let b = 0; b < 3; b++) {
      const { entries, head } = await origin.appendEvents(
        A,
        [0, 1, 2, 3].map((i) => makeEvent(b * 4 + i)),
      )
      authentic.push(...entries)
      await replica.acceptBatch({ origin: ORIGIN, entries: entries.map((e) => e.bytes), head })
    }
    await replica.close()
    const t = new Tamperer(replicaPath, replicaKeys, ORIGIN)
    await t.open()
    await t.flipByte(5)
    await t.close()
    replica = openStore(replicaPath, replicaKeys, [A])
    await replica.open()
    const { problems } = await replica.verify()
    expect(problems.map((p) => [p.kind, p.entryId])).toEqual([['modified', 'hospital-a:5']])
    // The forged entry 5: same seq and link, other content.
    const forged = makeEntry(ORIGIN, 5, authentic[3]!.hash, 'event', makeEvent(77), new Date())
    const forgedTree = new MemoryTree([
      ...authentic.slice(0, 4).map((e) => e.hash),
      forged.hash,
      ...authentic.slice(5).map((e) => e.hash),
    ])
    const close = async () => {
      await origin.close()
      await replica.close()
    }
    return { origin, replica, problems, authentic, forged, forgedTree, close }
  }

  async function repair(
    replica: LogStore,
    problems: Awaited<ReturnType<typeof damagedReplica>>['problems'],
    peers: RepairPeer[],
    cut?: KnownHead,
  ): Promise<FeedRepairOutcome> {
    return repairFromPeers({
      replica: replica.scrubView,
      writeRepair: (r) => replica.repairFeed(r),
      origin: ORIGIN,
      problems,
      cut,
      originKey: A.publicKey,
      peers,
      exclusive: (fn) => fn(),
      log: silentLogger(),
    })
  }

  it('a forged entry is not written, whatever head or proof comes with it', async () => {
    const { origin, replica, problems, forged, forgedTree, close } = await damagedReplica()
    const [before] = await replica.scrubView.rawRecords(ORIGIN, [5], [])
    const authenticHead = (await origin.heads(ORIGIN, 8).next()).value as SignedTreeHead
    const peers = [
      // 1. a consistent forged tree, its head signed by another key
      forger('mallory', (req) => ({
        entry: forged.bytes,
        proof: forgedTree.inclusionProof(4, req.treeSize),
        head: signTreeHead(MALLORY.privateKey, ORIGIN, req.treeSize, forgedTree.root(req.treeSize)),
      })),
      // 2. the origin's real head, with the forged entry and the real entry's proof
      forger('eve', () => ({
        entry: forged.bytes,
        proof: forgedTree.inclusionProof(4, 8),
        head: authenticHead,
      })),
      // 3. no head at all
      forger('trudy', (req) => ({
        entry: forged.bytes,
        proof: forgedTree.inclusionProof(4, req.treeSize),
      })),
    ]
    const outcome = await repair(replica, problems, peers)
    expect(outcome.result?.entries ?? []).toEqual([])
    expect(outcome.unproven).toEqual([5])
    expect(outcome.from).toEqual([])
    expect(new Set(outcome.rejected.map((r) => r.peer))).toEqual(
      new Set(['mallory', 'eve', 'trudy']),
    )
    const [after] = await replica.scrubView.rawRecords(ORIGIN, [5], [])
    expect(Buffer.compare(after!, before!)).toBe(0) // not a byte changed
    expect((await replica.verify()).problems.map((p) => p.entryId)).toEqual(['hospital-a:5'])
    await close()
  })

  it('a head the origin really signed but the checkpoint contradicts is not believed either', async () => {
    const { origin, replica, problems, forged, forgedTree, close } = await damagedReplica()
    const cut = { treeSize: 12, root: await origin.rootAt(ORIGIN, 12) }
    // The origin's key signing a second history (an equivocating or compromised origin).
    const equivocated = forger('hospital-a', () => ({
      entry: forged.bytes,
      proof: forgedTree.inclusionProof(4, 12),
      head: signTreeHead(A.privateKey, ORIGIN, 12, forgedTree.root(12)),
    }))
    const outcome = await repair(replica, problems, [equivocated], cut)
    expect(outcome.result?.entries ?? []).toEqual([])
    expect(outcome.rejected.some((r) => r.seq === 5 && r.treeSize === 12)).toBe(true)
    // An honest peer after it: proven against the checkpoint's root, written.
    const fixed = await repair(
      replica,
      problems,
      [equivocated, honestPeer('hospital-c', origin)],
      cut,
    )
    expect(fixed.result?.entries).toEqual([5])
    expect(fixed.from).toEqual(['hospital-c'])
    expect(fixed.anchors).toEqual([{ treeSize: 12, root: cut.root, source: 'checkpoint' }])
    expect(
      Buffer.compare(
        (await replica.getEntry(ORIGIN, 5))!.bytes,
        (await origin.getEntry(ORIGIN, 5))!.bytes,
      ),
    ).toBe(0)
    expect((await replica.verify()).ok).toBe(true)
    await close()
  })

  it('the store refuses a repair whose entry does not prove, and writes nothing', async () => {
    const { replica, forged, forgedTree, close } = await damagedReplica()
    const [before] = await replica.scrubView.rawRecords(ORIGIN, [5], [])
    const err = await replica
      .repairFeed({
        origin: ORIGIN,
        trustedRoots: new Map([[12, await replica.rootAt(ORIGIN, 12)]]),
        entries: [
          { seq: 5, bytes: forged.bytes, treeSize: 12, proof: forgedTree.inclusionProof(4, 12) },
        ],
        heads: [],
        uncovered: [],
      })
      .catch((e: unknown) => e)
    expect(isEhrlogError(err, 'INVALID_PROOF')).toBe(true)
    const [after] = await replica.scrubView.rawRecords(ORIGIN, [5], [])
    expect(Buffer.compare(after!, before!)).toBe(0)
    await close()
  })

  it('tree nodes recomputed from a proof are the ones an append stores', () => {
    const builder = new MerkleBuilder()
    const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)))
    const tree = new MemoryTree(leaves)
    for (const [i, leaf] of leaves.entries()) {
      const stored = builder
        .append(leaf)
        .slice(1)
        .map((n) => n.hash)
      for (const size of [i + 1, Math.min(70, i + 5), 70])
        expect(completedNodes(leaf, i + 1, tree.inclusionProof(i, size))).toEqual(stored)
    }
  })
})
