import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifyEntryBody } from '../../node/core/body.ts'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { MembershipHistory, type SignedProposal } from '../../node/core/trust/index.ts'
import { OriginKeys } from '../../node/membership/origin-keys.ts'
import { markersIn, rotationMarkerBody } from '../../node/membership/rotation-marker.ts'
import { type FeedBatch, LogStore } from '../../node/store/index.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'
import { makeEvent, makeStoreKeys } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * The cut of an Ed25519 rotation whose old key is held is the rotating origin's own marker
 * entry (`key-rotated`): the last entry its old key signs. Real LevelDB stores: an origin feed
 * written as the rotating node writes it, replicas that take its batches by OriginKeys.
 */

let members: TestMember[]
let keys: Map<string, TestMember>
let network: { members: unknown[]; vrfPublicKey: string }
let newKey: KeyObject
let oldKey: KeyObject
let rotate: SignedProposal

beforeAll(async () => {
  members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  keys = new Map(members.map((m) => [m.identity.name, m]))
  network = { members: members.map((m) => m.identity), vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
  newKey = generateKeyPairSync('ed25519').privateKey
  oldKey = members[0]!.feedKey
  rotate = await signedChange(
    MembershipHistory.fromChain(network, []).versions[0]!,
    {
      type: 'rotate-ed25519',
      name: 'hospital-a',
      ed25519PublicKey: toHex(ed25519RawPublicKey(newKey)),
      oldKey: 'held',
    },
    ['hospital-a', 'hospital-b'],
    keys,
  )
})

const signerOf = (privateKey: KeyObject) => ({ origin: 'hospital-a', privateKey })
const events = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ kind: 'event' as const, body: makeEvent(from + i) }))

/** A checkpoint as OriginKeys reads it (version and cuts only). */
function checkpointAt(version: number, cuts: Record<string, number>): CosignedCheckpoint {
  return {
    checkpoint: {
      membership: { version, hash: new Uint8Array(32) },
      feeds: Object.entries(cuts).map(([origin, treeSize]) => ({ origin, treeSize })),
    },
  } as unknown as CosignedCheckpoint
}

async function refusal(fn: () => Promise<unknown>) {
  try {
    await fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? { code: err.code, details: err.details } : { code: String(err) }
  }
}

/** One batch of every entry of the origin's feed in [from, to], under its head at `to`. */
async function batchOf(store: LogStore, from: number, to: number): Promise<FeedBatch> {
  const entries: Uint8Array[] = []
  for await (const e of store.entries('hospital-a', from, to)) entries.push(e.bytes)
  let head: FeedBatch['head'] | undefined
  for await (const h of store.heads('hospital-a', to)) if (h.treeSize === to) head = h
  return { origin: 'hospital-a', entries, head: head! }
}

describe('the cut of a held Ed25519 rotation is the rotating feed’s marker', () => {
  const tempDir = useTempDirs()

  /**
   * The origin's feed as the rotating node writes it: 3 events under the old key, the marker
   * (seq 4, its head signed by the old key), 2 events under the new key (seqs 5, 6).
   */
  async function originFeed(dir: string): Promise<LogStore> {
    const origin = new LogStore({
      path: join(dir, 'origin'),
      keys: makeStoreKeys(),
      originKey: () => undefined,
    })
    await origin.open()
    const v1 = MembershipHistory.fromChain(network, [rotate]).versions[1]!
    await origin.appendEntries(signerOf(oldKey), events(1, 3))
    await origin.appendEntries(signerOf(oldKey), [
      { kind: 'membership', body: rotationMarkerBody(v1, toHex(ed25519RawPublicKey(newKey))) },
    ])
    await origin.appendEntries(signerOf(newKey), events(4, 2))
    return origin
  }

  const storeKeys = makeStoreKeys()
  function replicaOf(dir: string, name: string, originKeys: OriginKeys): LogStore {
    return new LogStore({
      path: join(dir, name),
      keys: storeKeys,
      originKey: (o, size) => originKeys.storedKeyAt(o, size),
      headKeys: (o, size, entries) => originKeys.headKeys(o, size, entries),
    })
  }

  it('batches up to the marker under the old key, after it under the new; the old key past it is refused naming it', async () => {
    const dir = await tempDir()
    const origin = await originFeed(dir)
    const source = { history: MembershipHistory.fromChain(network, [rotate]) }
    const originKeys = new OriginKeys(source, dir)
    const replica = replicaOf(dir, 'replica', originKeys)
    await replica.open()
    try {
      const oldPublic = ed25519RawPublicKey(oldKey)
      // Before the marker is seen, the old key is in force at any size.
      expect(originKeys.keyAt('hospital-a', 1_000)).toEqual(oldPublic)
      // The batch that carries the marker (seqs 1..4, head at 4 by the old key).
      const upToMarker = await batchOf(origin, 1, 4)
      expect(markersIn(upToMarker.entries).map((m) => m.seq)).toEqual([4])
      expect((await replica.acceptBatch(upToMarker)).status).toBe('stored')
      originKeys.noteEntries('hospital-a', upToMarker.entries)
      expect(originKeys.erasOf('hospital-a').map((e) => [e.after, e.upTo])).toEqual([
        [0, 4],
        [4, Infinity],
      ])
      // A checkpoint cosigned under version 1 later does not move the cut.
      originKeys.noteCheckpoint(checkpointAt(1, { 'hospital-a': 2 }))
      expect(originKeys.keyAt('hospital-a', 4)).toEqual(oldPublic)

      // The old key goes on signing past the marker: refused, naming the key and the version.
      const thief = new LogStore({
        path: join(dir, 'thief'),
        keys: makeStoreKeys(),
        originKey: () => oldPublic,
      })
      await thief.open()
      try {
        for (const b of await origin.readBatches('hospital-a', 1, 4)) await thief.acceptBatch(b)
        await thief.appendEntries(signerOf(oldKey), events(100, 1))
        const forged = await batchOf(thief, 5, 5)
        expect(await refusal(() => replica.acceptBatch(forged))).toMatchObject({
          code: 'INVALID_SIGNATURE',
          details: {
            origin: 'hospital-a',
            treeSize: 5,
            retiredKey: toHex(oldPublic),
            retiredAfter: 4,
            version: 1,
          },
        })
        expect(replica.size('hospital-a')).toBe(4) // nothing stored
      } finally {
        await thief.close()
      }

      // The batch after the marker, under the new key.
      expect((await replica.acceptBatch(await batchOf(origin, 5, 6))).status).toBe('stored')
      expect((await replica.verify()).ok).toBe(true)
      // The cut is kept in cuts.json: a restart reads it back.
      await originKeys.flushed()
      const again = await OriginKeys.load(source, dir)
      expect(again.keyAt('hospital-a', 5)).toEqual(ed25519RawPublicKey(newKey))
      expect(again.keyAt('hospital-a', 4)).toEqual(oldPublic)
    } finally {
      await origin.close()
      await replica.close()
    }
  })

  it('one batch that carries the marker and new-key entries after it is taken whole; without the marker the new key is not yet in force', async () => {
    const dir = await tempDir()
    const origin = await originFeed(dir)
    const source = { history: MembershipHistory.fromChain(network, [rotate]) }
    const originKeys = new OriginKeys(source)
    const replica = replicaOf(dir, 'replica', originKeys)
    await replica.open()
    try {
      expect((await replica.acceptBatch(await batchOf(origin, 1, 3))).status).toBe('stored')
      // The new key's head at 5 with no marker in the batch nor seen: not in force yet, and
      // no retired key signed it (no alert).
      const skipping = await batchOf(origin, 5, 6)
      expect(await refusal(() => replica.acceptBatch(skipping))).toMatchObject({
        code: 'INVALID_SIGNATURE',
      })
      expect(
        ((await refusal(() => replica.acceptBatch(skipping)))?.details as Record<string, unknown>)
          ?.retiredKey,
      ).toBeUndefined()
      // Seqs 4..6 in one batch, under the new key's head at 6: the marker in it is the cut.
      const whole = await batchOf(origin, 4, 6)
      expect((await replica.acceptBatch(whole)).status).toBe('stored')
      originKeys.noteEntries('hospital-a', whole.entries)
      expect(originKeys.erasOf('hospital-a')[0]!.upTo).toBe(4)
      expect((await replica.verify()).ok).toBe(true)
    } finally {
      await origin.close()
      await replica.close()
    }
  })

  it('a member that missed every checkpoint, or stored the marker before it applied the version, gets the same cut; so does an offline verify', async () => {
    const dir = await tempDir()
    const origin = await originFeed(dir)
    const v0 = { history: MembershipHistory.fromChain(network, []) }
    // A replica still at version 0 takes the marker's batch (its old-key head is valid there).
    let history = v0.history
    const source = {
      get history() {
        return history
      },
    }
    const originKeys = new OriginKeys(source, dir)
    const replica = replicaOf(dir, 'late', originKeys)
    await replica.open()
    try {
      const upToMarker = await batchOf(origin, 1, 4)
      expect((await replica.acceptBatch(upToMarker)).status).toBe('stored')
      originKeys.noteEntries('hospital-a', upToMarker.entries)
      // Version 1 applied later, no checkpoint seen: the marker already stored is its cut.
      history = MembershipHistory.fromChain(network, [rotate])
      expect(originKeys.erasOf('hospital-a')[0]!.upTo).toBe(4)
      expect((await replica.acceptBatch(await batchOf(origin, 5, 6))).status).toBe('stored')
      await originKeys.flushed()
    } finally {
      await replica.close()
    }
    // The same replica opened offline with no cuts.json: findMarkers reads the marker back.
    const offline = new OriginKeys({ history: MembershipHistory.fromChain(network, [rotate]) })
    expect(offline.awaitingMarkers()).toEqual(['hospital-a'])
    const reopened = replicaOf(dir, 'late', offline)
    await reopened.open()
    try {
      await offline.findMarkers(reopened)
      expect(offline.awaitingMarkers()).toEqual([])
      expect(offline.erasOf('hospital-a').map((e) => e.upTo)).toEqual([4, Infinity])
      expect((await reopened.verify()).ok).toBe(true)
    } finally {
      await reopened.close()
      await origin.close()
    }
  })

  it('the marker body is a strict membership record (docs/format.md, key-rotated)', () => {
    const v1 = MembershipHistory.fromChain(network, [rotate]).versions[1]!
    const body = rotationMarkerBody(v1, toHex(ed25519RawPublicKey(newKey)))
    expect(body).toEqual({
      op: 'key-rotated',
      id: v1.hash,
      version: 1,
      ed25519PublicKey: toHex(ed25519RawPublicKey(newKey)),
    })
    expect(() => verifyEntryBody('membership', body)).not.toThrow()
    for (const bad of [
      { ...body, version: 0 },
      { ...body, ed25519PublicKey: 'ab' },
      { ...body, extra: 1 },
      { op: 'key-rotated', id: v1.hash, version: 1 },
    ])
      expect(() => verifyEntryBody('membership', bad)).toThrow(/membership record/)
  })

  it('a marker naming another key or version fixes no cut; a lost rotation still takes its cut from a checkpoint', async () => {
    const history = MembershipHistory.fromChain(network, [rotate])
    const originKeys = new OriginKeys({ history })
    const v1 = history.versions[1]!
    originKeys.noteMarker({
      origin: 'hospital-a',
      seq: 9,
      version: 1,
      id: v1.hash,
      key: 'ab'.repeat(32),
    })
    originKeys.noteMarker({
      origin: 'hospital-a',
      seq: 9,
      version: 1,
      id: 'cd'.repeat(32),
      key: toHex(ed25519RawPublicKey(newKey)),
    })
    originKeys.noteMarker({
      origin: 'hospital-b',
      seq: 9,
      version: 1,
      id: v1.hash,
      key: toHex(ed25519RawPublicKey(newKey)),
    })
    originKeys.noteCheckpoint(checkpointAt(1, { 'hospital-a': 3 }))
    expect(originKeys.awaitingMarkers()).toEqual(['hospital-a'])

    const lost = await signedChange(
      MembershipHistory.fromChain(network, []).versions[0]!,
      {
        type: 'rotate-ed25519',
        name: 'hospital-a',
        ed25519PublicKey: toHex(ed25519RawPublicKey(newKey)),
        oldKey: 'lost',
      },
      ['hospital-b', 'hospital-c'],
      keys,
    )
    const byCheckpoint = new OriginKeys({ history: MembershipHistory.fromChain(network, [lost]) })
    expect(byCheckpoint.awaitingMarkers()).toEqual([])
    byCheckpoint.noteCheckpoint(checkpointAt(1, { 'hospital-a': 3 }))
    expect(byCheckpoint.erasOf('hospital-a')[0]!.upTo).toBe(3)
  })
})
