import { describe, expect, it } from 'vitest'
import { EhrlogError } from '../../node/core/errors.ts'
import { hashLeaf, MemoryTree } from '../../node/core/merkle/index.ts'
import { findParting, partingQuestionOf, prefixRoot } from '../../node/integrity/parting.ts'
import { repairSourceOf } from '../../node/integrity/repair-source.ts'
import type { RepairPeer } from '../../node/integrity/repairer.ts'
import { silentLogger } from '../../node/logger.ts'
import { seqsOf } from '../../node/net/repair-frames.ts'
import type { LogStore } from '../../node/store/index.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = 'hospital-a'

describe('prefixRoot: the root of the leaves up to one, from its inclusion proof', () => {
  it('equals the MTH of the first index + 1 leaves (RFC 9162 §2.1.1) for every leaf of trees of 1 to 70 leaves', () => {
    const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(new Uint8Array([i, i >> 8])))
    for (let size = 1; size <= leaves.length; size++) {
      const tree = new MemoryTree(leaves.slice(0, size))
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index)
        expect(Buffer.from(prefixRoot(leaves[index]!, index, size, proof))).toEqual(
          Buffer.from(tree.root(index + 1)),
        )
      }
    }
  })
})

/** A member answering repair requests from `store`, as the repair server does. */
function peerOf(name: string, store: LogStore, log: number[][] = []): RepairPeer {
  const source = repairSourceOf(store)
  return {
    name,
    async request({ origin, treeSize, ranges }) {
      if (treeSize > source.size(origin))
        throw new EhrlogError('NOT_FOUND', `${name} holds ${source.size(origin)} entries`)
      const seqs = seqsOf(ranges)
      log.push(seqs)
      const entries = new Map()
      for (const seq of seqs) {
        const proven = await source.entryWithProof(origin, seq, treeSize)
        if (proven) entries.set(seq, proven)
      }
      return { head: await source.headAt(origin, treeSize), entries }
    },
  }
}

describe('findParting: where this replica and another history of a feed part', () => {
  const tempDir = useTempDirs()

  /** Two stores holding `agreed` entries of A in common, then `ours` and `theirs` others. */
  async function forked(agreed: number, ours: number, theirs: number) {
    const signer = makeSigner(A)
    const open = async () => {
      const s = openStore(await tempDir(), makeStoreKeys(), [signer])
      await s.open()
      return s
    }
    const [us, them] = [await open(), await open()]
    for (let at = 0; at < agreed; at += 50) {
      const n = Math.min(50, agreed - at)
      const { entries, head } = await us.appendEvents(
        signer,
        Array.from({ length: n }, (_, i) => makeEvent(at + i)),
      )
      await them.acceptBatch({ origin: A, entries: entries.map((e) => e.bytes), head })
    }
    const extend = async (s: LogStore, count: number, base: number) => {
      for (let at = 0; at < count; at += 50)
        await s.appendEvents(
          signer,
          Array.from({ length: Math.min(50, count - at) }, (_, i) => makeEvent(base + at + i)),
        )
    }
    await extend(us, ours, 10_000)
    await extend(them, theirs, 20_000)
    return { us, them }
  }

  it('names the first differing seq, in a few requests of up to 32 seqs, for many fork points', async () => {
    for (const [agreed, ours, theirs] of [
      [0, 5, 7],
      [1, 1, 1],
      [300, 40, 90],
      [511, 1, 200],
      [64, 500, 3],
    ] as const) {
      const { us, them } = await forked(agreed, ours, theirs)
      const size = agreed + theirs
      const root = await them.rootAt(A, size)
      const asked: number[][] = []
      const parting = await findParting({
        replica: us,
        peers: [peerOf('hospital-b', them, asked)],
        question: {
          origin: A,
          treeSize: size,
          roots: [await us.rootAt(A, Math.min(size, us.size(A))), root],
          askFirst: [],
        },
        log: silentLogger(),
      })
      expect(parting, `forked after ${agreed}`).toMatchObject({
        seq: agreed + 1,
        treeSize: size,
        provenBy: 'hospital-b',
      })
      expect(Buffer.from(parting!.agreedRoot)).toEqual(Buffer.from(await them.rootAt(A, agreed)))
      expect(Buffer.from(parting!.theirLeafHash)).toEqual(
        Buffer.from((await them.getEntry(A, agreed + 1))!.hash),
      )
      expect(Buffer.from(parting!.ourLeafHash!)).toEqual(
        Buffer.from((await us.getEntry(A, agreed + 1))!.hash),
      )
      expect(asked.every((seqs) => seqs.length <= 32)).toBe(true)
      expect(asked.length).toBeLessThanOrEqual(4)
      await us.close()
      await them.close()
    }
  })

  it('skips a peer whose answers do not prove into the root, and finds nothing where the histories agree', async () => {
    const { us, them } = await forked(20, 4, 6)
    const { us: other } = await forked(20, 6, 0) // another history of the same size as theirs
    const root = await them.rootAt(A, 26)
    const liar: number[][] = []
    const parting = await findParting({
      replica: us,
      peers: [peerOf('hospital-c', other, liar), peerOf('hospital-b', them)],
      question: { origin: A, treeSize: 26, roots: [root], askFirst: ['hospital-c'] },
      log: silentLogger(),
    })
    expect(liar.length).toBe(1) // asked first, refused at its first answer
    expect(parting).toMatchObject({ seq: 21, provenBy: 'hospital-b' })
    // Our own root (or a history that agrees with ours as far as ours goes) parts nowhere.
    const same = await findParting({
      replica: us,
      peers: [peerOf('hospital-b', them)],
      question: { origin: A, treeSize: 24, roots: [await us.rootAt(A, 24)], askFirst: [] },
      log: silentLogger(),
    })
    expect(same).toBeUndefined()
    // No peer holds the other history: undefined, not a guess.
    expect(
      await findParting({
        replica: us,
        peers: [peerOf('hospital-c', other)],
        question: { origin: A, treeSize: 26, roots: [root], askFirst: [] },
        log: silentLogger(),
      }),
    ).toBeUndefined()
    for (const s of [us, them, other]) await s.close()
  })
})

describe('partingQuestionOf: the two roots at one size an alert incident names', () => {
  const r = (b: number) => b.toString(16).padStart(2, '0').repeat(32)
  it('reads a divergence and an equivocation over heads; nothing else', () => {
    const diverged = partingQuestionOf({
      kind: 'diverged',
      origin: A,
      evidence: {
        origin: A,
        treeSize: 12,
        theirRoot: r(1),
        ourRoot: r(2),
        nodes: ['hospital-b', 'hospital-c'],
      },
    })
    expect(diverged).toMatchObject({
      origin: A,
      treeSize: 12,
      askFirst: ['hospital-b', 'hospital-c'],
    })
    expect(diverged!.roots.map((x) => Buffer.from(x).toString('hex'))).toEqual([r(1), r(2)])
    const heads = partingQuestionOf({
      kind: 'equivocation',
      origin: A,
      evidence: {
        type: 'heads',
        treeSize: 8,
        a: { treeSize: 8, root: r(3) },
        bRoot: r(4),
        foundBy: 'hospital-b',
      },
    })
    expect(heads).toMatchObject({ treeSize: 8, askFirst: ['hospital-b'] })
    expect(heads!.roots.map((x) => Buffer.from(x).toString('hex'))).toEqual([r(3), r(4)])
    // Two entries at one seq name the seq already; other kinds and malformed evidence: none.
    for (const incident of [
      { kind: 'equivocation', origin: A, evidence: { type: 'entries', seq: 3, treeSize: 8 } },
      { kind: 'modified', origin: A, evidence: { treeSize: 8, theirRoot: r(1) } },
      { kind: 'diverged', origin: A, evidence: { treeSize: '12', theirRoot: r(1) } },
      { kind: 'diverged', origin: A, evidence: { treeSize: 12, theirRoot: 'zz' } },
      { kind: 'diverged', origin: A, evidence: undefined },
    ])
      expect(partingQuestionOf(incident), JSON.stringify(incident)).toBeUndefined()
  })
})
