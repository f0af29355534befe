import { afterEach, describe, expect, it } from 'vitest'
import type { Incident } from '../../node/alerts/index.ts'
import { type Checkpoint, feedCutOf } from '../../node/core/checkpoint.ts'
import { decodeEntry } from '../../node/core/entry.ts'
import { toHex } from '../../node/core/hex.ts'
import {
  type AnsweredEntry,
  decodeCompletenessProof,
  PatientIndex,
  verifyCompleteness,
} from '../../node/core/index/index.ts'
import type { QueryAnswerJson } from '../../node/core/trust/index.ts'
import { ReferenceIndexView } from '../../node/index/reference-index-view.ts'
import type { EhrlogNode } from '../../node/node.ts'
import type { LogStore } from '../../node/store/index.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { login, register } from '../query/sessions.ts'

const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']

/** The index of `origin` at `treeSize`, recomputed here from the entries' bytes alone. */
async function oracleRoot(
  store: LogStore,
  vrfSecretKey: Uint8Array,
  origin: string,
  treeSize: number,
): Promise<Uint8Array> {
  const index = new PatientIndex(vrfSecretKey)
  for (let seq = 1; seq <= treeSize; seq++) {
    const { entry } = decodeEntry((await store.getEntry(origin, seq))!.bytes)
    index.applyEntry(
      origin,
      seq,
      entry.kind === 'event' ? (entry.body as { patientId: string }).patientId : undefined,
    )
  }
  return index.indexRoot(origin)
}

/** A node whose index of hospital-a is wrong: its roots are off by one bit (a damaged index). */
class WrongIndexView extends ReferenceIndexView {
  override async rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    const root = await super.rootAt(origin, treeSize)
    if (origin !== 'hospital-a' || treeSize === 0) return root
    const wrong = Uint8Array.from(root)
    wrong[0]! ^= 1
    return wrong
  }
}

/** Lets the test damage an index it holds, keeping its size (what check() must find). */
class DamageableIndexView extends ReferenceIndexView {
  damage(origin: string): void {
    this.roots.clear()
    for (const feeds of [this.working, this.committed?.feeds]) {
      const held = feeds?.get(origin)
      if (!held) continue
      const bad = new PatientIndex(TEST_KEY.current!)
      for (let seq = 1; seq <= held.treeSize(origin); seq++)
        bad.applyEntry(origin, seq, `not-the-patient-${seq}`)
      feeds!.set(origin, bad)
    }
  }
}
const TEST_KEY: { current?: Uint8Array } = {}

describe('checkpoints carry index roots; answers carry completeness proofs (three real nodes)', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('every cut carries the index root recomputed from the entries; a patient-only answer proves complete, a narrowed one carries no proof', async () => {
    const { dirs } = await initNetwork(await tempDir())
    let vrfSecretKey: Uint8Array | undefined
    nodes = await startNodes(dirs, {
      indexView: (store, key) => {
        vrfSecretKey = key
        return new ReferenceIndexView(store, key)
      },
    })
    const [a, b] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await register(a.auth, 'admin@hospital-a', 'admin') // a user entry: in the feed, not in the index
    await a.ingest.submit(Array.from({ length: 12 }, (_, i) => makeEvent(i)))
    await b.ingest.submit([makeEvent(1), makeEvent(8), makeEvent(20)]) // patient-1 at b too
    const sizeA = a.store.size('hospital-a')
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-a') === sizeA && n.store.size('hospital-b') === 3),
    )
    const cosigned = await b.checkpoints.runRound()
    for (const cut of cosigned.checkpoint.feeds) {
      const want = await oracleRoot(a.store, vrfSecretKey!, cut.origin, cut.treeSize)
      expect(toHex(cut.indexRoot), cut.origin).toBe(toHex(want))
    }
    expect(cosigned.checkpoint.feeds.map((f) => f.treeSize)).toEqual([sizeA, 3, 0])
    await waitFor('a adopts the checkpoint', () =>
      Boolean(a.checkpoints.latest()?.checkpoint.timeMs === cosigned.checkpoint.timeMs),
    )

    const { token } = login(a.auth, 'admin@hospital-a')
    const answer = (await a.query.answer(token, {
      filter: { patient: 'patient-1' },
      limit: 1000,
      via: 'http',
    })) as QueryAnswerJson
    expect(answer.completeness?.patientId).toBe('patient-1')
    const checkpoint: Checkpoint = cosigned.checkpoint
    expect(answer.checkpoint?.checkpoint.timeMs).toBe(checkpoint.timeMs)
    const answered: AnsweredEntry[] = answer.entries
      .map((e) => decodeEntry(Buffer.from(e.bytes, 'base64')).entry)
      .filter((e) => e.seq <= (feedCutOf(checkpoint, e.origin)?.treeSize ?? 0))
      .map((e) => ({
        origin: e.origin,
        seq: e.seq,
        patientId: (e.body as { patientId: string }).patientId,
      }))
    // patient-1 (makeEvent i % 7 === 1): a:1 and a:8 (events 1 and 8), b:1 and b:2.
    expect(answered.length).toBe(4)
    const cut = new Map(checkpoint.feeds.map((f) => [f.origin, f]))
    const vrfPublicKey = new PatientIndex(vrfSecretKey!).vrfPublicKey
    const proof = decodeCompletenessProof(
      new Uint8Array(Buffer.from(answer.completeness!.proof, 'base64')),
    )
    const result = verifyCompleteness({
      vrfPublicKey,
      patientId: 'patient-1',
      cut,
      proof,
      entries: answered,
    })
    expect(result.origins.map((o) => [o.origin, o.count])).toEqual([
      ['hospital-a', 2],
      ['hospital-b', 2],
      ['hospital-c', 0],
    ])
    // An answer missing one of the patient's entries is refused by the same proof.
    expect(() =>
      verifyCompleteness({
        vrfPublicKey,
        patientId: 'patient-1',
        cut,
        proof,
        entries: answered.slice(1),
      }),
    ).toThrow(/INVALID_PROOF|missing|count|chain/i)

    for (const filter of [
      { patient: 'patient-1', action: 'read' },
      { patient: 'patient-1', origin: 'hospital-a' },
      { action: 'read' },
    ]) {
      const narrowed = (await a.query.answer(token, {
        filter,
        via: 'http',
      })) as QueryAnswerJson
      expect(narrowed.completeness, JSON.stringify(filter)).toBeUndefined()
      expect(narrowed.entries.length).toBeGreaterThan(0)
    }
    // The next checkpoint (the queries recorded since are events about patient-1) proves at
    // its own cut on every node, and its index roots still match the oracle.
    await waitFor('query records replicated', () =>
      nodes.every((n) => n.store.size('hospital-a') === a.store.size('hospital-a')),
    )
    const next = await a.checkpoints.runRound()
    const cutA = feedCutOf(next.checkpoint, 'hospital-a')!
    expect(cutA.treeSize).toBeGreaterThan(sizeA)
    expect(toHex(cutA.indexRoot)).toBe(
      toHex(await oracleRoot(b.store, vrfSecretKey!, 'hospital-a', cutA.treeSize)),
    )
  })

  it('a node whose index disagrees does not cosign, and names the origin in an index-diverged incident', async () => {
    const { dirs } = await initNetwork(await tempDir())
    const incidents: Incident[] = []
    nodes = await startNodes(dirs.slice(0, 2))
    const [c] = await startNodes([dirs[2]!], {
      indexView: (store, key) => new WrongIndexView(store, key),
      onIncident: (i) => incidents.push(i),
    })
    nodes.push(c!)
    const [a, b] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await a.ingest.submit([makeEvent(1), makeEvent(2)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 2))
    await b.stop() // a and c only: c's cosignature is needed for a quorum
    await waitFor('a and c connected', () =>
      a.net.peers().some((p) => p.name === 'hospital-c' && p.gossip),
    )
    await expect(a.checkpoints.runRound()).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    const diverged = incidents.filter((i) => i.kind === 'index-diverged')
    expect(diverged).toHaveLength(1)
    expect(diverged[0]).toMatchObject({
      origin: 'hospital-a',
      reportingNode: 'hospital-c',
      key: 'hospital-a:2',
      evidence: { origin: 'hospital-a', treeSize: 2, nodes: ['hospital-a', 'hospital-c'] },
    })
    expect(c!.checkpoints.latest()).toBeUndefined()
    expect(a.checkpoints.latest()).toBeUndefined()
  }, 30_000)

  it('the scrub finds a damaged index, names the origin in an incident and rebuilds it', async () => {
    const { dirs } = await initNetwork(await tempDir())
    const views: DamageableIndexView[] = []
    const incidents: Incident[] = []
    nodes = await startNodes(dirs, {
      indexView: (store, key) => {
        TEST_KEY.current = key
        const view = new DamageableIndexView(store, key)
        views.push(view)
        return view
      },
      onIncident: (i) => incidents.push(i),
    })
    const [a] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await a.ingest.submit(Array.from({ length: 5 }, (_, i) => makeEvent(i)))
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 5))
    const cosigned = await a.checkpoints.runRound()
    const good = feedCutOf(cosigned.checkpoint, 'hospital-a')!.indexRoot
    const view = views[0]!
    expect(toHex(await view.rootAt('hospital-a', 5))).toBe(toHex(good))
    view.damage('hospital-a')
    expect(toHex(await view.rootAt('hospital-a', 5))).not.toBe(toHex(good))
    const result = await a.integrity.scrubNow()
    const found = result.incidents.filter((i) => i.kind === 'index-diverged')
    expect(found).toMatchObject([
      { origin: 'hospital-a', reportingNode: 'hospital-a', repaired: { local: true } },
    ])
    expect(found[0]!.summary).toMatch(/hospital-a.*rebuilt/)
    await waitFor('the alert', () => incidents.some((i) => i.kind === 'index-diverged'))
    expect(toHex(await view.rootAt('hospital-a', 5))).toBe(toHex(good))
    // Rebuilt: the next scrub finds nothing, and proofs verify at the cut again.
    const again = await a.integrity.scrubNow()
    expect(again.incidents.filter((i) => i.kind === 'index-diverged')).toEqual([])
    const proof = await view.prove('patient-1', cosigned.checkpoint)
    const cut = new Map(cosigned.checkpoint.feeds.map((f) => [f.origin, f]))
    expect(
      verifyCompleteness({
        vrfPublicKey: new PatientIndex(TEST_KEY.current!).vrfPublicKey,
        patientId: 'patient-1',
        cut,
        proof,
        entries: [{ origin: 'hospital-a', seq: 2, patientId: 'patient-1' }],
      }).origins.map((o) => o.count),
    ).toEqual([1, 0, 0])
    expect(cosigned.checkpoint.feeds.map((f) => f.origin)).toEqual(ORIGINS)
  }, 60_000)
})
