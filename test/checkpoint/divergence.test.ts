import { describe, expect, it } from 'vitest'
import { type CheckpointIncident, mayCosign } from '../../node/checkpoint/proposal-check.ts'
import type { Checkpoint } from '../../node/core/checkpoint.ts'
import { toHex } from '../../node/core/hex.ts'
import { PatientIndex } from '../../node/core/index/index.ts'
import { ReferenceIndexView } from '../../node/index/reference-index-view.ts'
import { silentLogger } from '../../node/logger.ts'
import {
  makeEvent,
  makeSigner,
  makeStoreKeys,
  openStore,
  TEST_VRF_SECRET_KEY,
} from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')

/**
 * Divergence: two replicas hold different roots for one origin at one size. Each replica
 * verified every batch against the origin's signature, so this takes an origin that signed
 * two histories (or an insider with its key); here hospital-a's key signs two feeds that
 * differ in entry 3, one stored by the proposer, the other by the node asked to cosign.
 */
describe('a proposal whose roots differ from this replica', () => {
  const tempDir = useTempDirs()

  async function feed(notes: string) {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    await store.appendEvents(A, [makeEvent(0), makeEvent(1)])
    await store.appendEvents(A, [makeEvent(2, { notes }), makeEvent(3)])
    return store
  }

  it('is refused, and reported as diverged naming the origin, the size and both roots', async () => {
    const [ours, theirs] = [await feed('as it happened'), await feed('as rewritten')]
    const theirRoot = await theirs.rootAt('hospital-a', 4)
    const ourRoot = await ours.rootAt('hospital-a', 4)
    expect(toHex(theirRoot)).not.toBe(toHex(ourRoot))
    const proposal: Checkpoint = {
      networkId: new Uint8Array(32),
      membership: { version: 0, hash: new Uint8Array(32) },
      timeMs: Date.now(),
      feeds: [
        { origin: 'hospital-a', treeSize: 4, root: theirRoot, indexRoot: new Uint8Array(32) },
      ],
    }
    const incidents: CheckpointIncident[] = []
    const options = {
      self: 'hospital-b',
      store: ours,
      index: new ReferenceIndexView(ours, TEST_VRF_SECRET_KEY),
      latest: undefined,
      proposerName: 'hospital-c',
      syncNow: async () => {},
      syncWaitMs: 0,
      stopped: () => false,
      onIncident: (i: CheckpointIncident) => incidents.push(i),
      logger: silentLogger(),
    }
    expect(await mayCosign(proposal, options)).toBe(false)
    expect(incidents).toEqual([
      {
        kind: 'diverged',
        origin: 'hospital-a',
        key: `hospital-a:4:${toHex(theirRoot)}`,
        summary: expect.stringMatching(
          /^hospital-c holds root [0-9a-f]{16}… for hospital-a at size 4; hospital-b holds/,
        ),
        evidence: {
          origin: 'hospital-a',
          treeSize: 4,
          theirRoot: toHex(theirRoot),
          ourRoot: toHex(ourRoot),
          nodes: ['hospital-c', 'hospital-b'],
        },
      },
    ])
    // The same proposal with this replica's own roots is signed: the check is the roots.
    const ourIndexRoot = await options.index.rootAt('hospital-a', 4)
    const agreed = {
      ...proposal,
      feeds: [{ ...proposal.feeds[0]!, root: ourRoot, indexRoot: ourIndexRoot }],
    }
    expect(await mayCosign(agreed, options)).toBe(true)
    expect(incidents).toHaveLength(1)
    await ours.close()
    await theirs.close()
  })

  it('with the same feed root but another index root is refused as index-diverged naming the origin', async () => {
    const ours = await feed('as it happened')
    const root = await ours.rootAt('hospital-a', 4)
    // The index recomputed here from the entries themselves, independent of the view.
    const oracle = new PatientIndex(TEST_VRF_SECRET_KEY)
    for await (const { entry } of ours.entries('hospital-a', 1, 4))
      oracle.applyEntry('hospital-a', entry.seq, (entry.body as { patientId: string }).patientId)
    const indexRoot = oracle.indexRoot('hospital-a')
    // Another index: the same entries with entry 3 about another patient.
    const wrong = new PatientIndex(TEST_VRF_SECRET_KEY)
    for (const seq of [1, 2, 3, 4])
      wrong.applyEntry('hospital-a', seq, `patient-${seq === 3 ? 9 : seq - 1}`)
    const wrongRoot = wrong.indexRoot('hospital-a')
    expect(toHex(wrongRoot)).not.toBe(toHex(indexRoot))
    const incidents: CheckpointIncident[] = []
    const options = {
      self: 'hospital-b',
      store: ours,
      index: new ReferenceIndexView(ours, TEST_VRF_SECRET_KEY),
      latest: undefined,
      proposerName: 'hospital-c',
      syncNow: async () => {},
      syncWaitMs: 0,
      stopped: () => false,
      onIncident: (i: CheckpointIncident) => incidents.push(i),
      logger: silentLogger(),
    }
    const proposal: Checkpoint = {
      networkId: new Uint8Array(32),
      membership: { version: 0, hash: new Uint8Array(32) },
      timeMs: Date.now(),
      feeds: [{ origin: 'hospital-a', treeSize: 4, root, indexRoot: wrongRoot }],
    }
    expect(await mayCosign(proposal, options)).toBe(false)
    expect(incidents).toEqual([
      {
        kind: 'index-diverged',
        origin: 'hospital-a',
        key: 'hospital-a:4',
        summary: expect.stringMatching(
          /^hospital-c proposes index root [0-9a-f]{16}… for hospital-a at size 4; .* not cosigned$/,
        ),
        evidence: {
          origin: 'hospital-a',
          treeSize: 4,
          root: toHex(root),
          theirIndexRoot: toHex(wrongRoot),
          ourIndexRoot: toHex(indexRoot),
          nodes: ['hospital-c', 'hospital-b'],
        },
      },
    ])
    const agreed = { ...proposal, feeds: [{ ...proposal.feeds[0]!, indexRoot }] }
    expect(await mayCosign(agreed, options)).toBe(true)
    expect(incidents).toHaveLength(1)
    await ours.close()
  })
})
