import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { MembershipHistory } from '../../node/core/trust/index.ts'
import { OriginKeys } from '../../node/membership/origin-keys.ts'
import { LogStore } from '../../node/store/index.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'
import { makeEvent, makeStoreKeys } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

let members: TestMember[]
let keys: Map<string, TestMember>
let network: { members: unknown[]; vrfPublicKey: string }
let newKey: KeyObject

beforeAll(async () => {
  members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  keys = new Map(members.map((m) => [m.identity.name, m]))
  network = { members: members.map((m) => m.identity), vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
  newKey = generateKeyPairSync('ed25519').privateKey
})

/** A cosigned checkpoint as OriginKeys reads it (its caller verified it): version and cuts. */
function checkpointAt(version: number, cuts: Record<string, number>): CosignedCheckpoint {
  return {
    checkpoint: {
      networkId: new Uint8Array(32),
      membership: { version, hash: new Uint8Array(32) },
      timeMs: Date.now(),
      feeds: Object.entries(cuts).map(([origin, treeSize]) => ({
        origin,
        treeSize,
        root: new Uint8Array(32),
        indexRoot: new Uint8Array(32),
      })),
    },
    signers: new Uint8Array(1),
    signature: new Uint8Array(96),
  } as unknown as CosignedCheckpoint
}

/** Batches of hospital-a's feed signed by `key`, from an origin store. */
async function batchesSignedBy(origin: LogStore, key: KeyObject, n: number, from: number) {
  const items = Array.from({ length: n }, (_, i) => ({
    kind: 'event' as const,
    body: makeEvent(from + i),
  }))
  await origin.appendEntries({ origin: 'hospital-a', privateKey: key }, items)
  return origin.readBatches('hospital-a', from, 100)
}

async function codeAndDetails(fn: () => Promise<unknown>) {
  try {
    await fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? { code: err.code, details: err.details } : { code: String(err) }
  }
}

describe('origin keys: which Ed25519 key signs a head of which size, across versions', () => {
  const tempDir = useTempDirs()

  it('a key declared lost signs up to the cut (the first checkpoint of its version), the new one after it; a head past the cut by the old key is refused naming it', async () => {
    const dir = await tempDir()
    const rotate = await signedChange(
      MembershipHistory.fromChain(network, []).versions[0]!,
      {
        type: 'rotate-ed25519',
        name: 'hospital-a',
        ed25519PublicKey: toHex(ed25519RawPublicKey(newKey)),
        oldKey: 'lost',
      },
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    const source = { history: MembershipHistory.fromChain(network, [rotate]) }
    const originKeys = new OriginKeys(source, dir)
    const oldPublic = ed25519RawPublicKey(members[0]!.feedKey)
    // Until the cut is known, only the old key is in force.
    expect(originKeys.keyAt('hospital-a', 1_000)).toEqual(oldPublic)
    originKeys.noteCheckpoint(checkpointAt(1, { 'hospital-a': 3, 'hospital-b': 0 }))
    expect(originKeys.keyAt('hospital-a', 3)).toEqual(oldPublic)
    expect(originKeys.keyAt('hospital-a', 4)).toEqual(ed25519RawPublicKey(newKey))
    expect(originKeys.retiredAt('hospital-a', 4).map((e) => e.keyHex)).toEqual([toHex(oldPublic)])
    // A later checkpoint does not move the cut; a restart reads it back.
    originKeys.noteCheckpoint(checkpointAt(1, { 'hospital-a': 9 }))
    await originKeys.flushed()
    const again = await OriginKeys.load(source, dir)
    expect(again.keyAt('hospital-a', 4)).toEqual(ed25519RawPublicKey(newKey))

    // A replica whose store takes heads by these keys.
    const origin = new LogStore({
      path: join(dir, 'origin'),
      keys: makeStoreKeys(),
      originKey: () => undefined,
    })
    const replica = new LogStore({
      path: join(dir, 'replica'),
      keys: makeStoreKeys(),
      originKey: (o, size) => again.storedKeyAt(o, size),
      headKeys: (o, size) => again.headKeys(o, size),
    })
    await origin.open()
    await replica.open()
    try {
      for (const b of await batchesSignedBy(origin, members[0]!.feedKey, 3, 1))
        expect((await replica.acceptBatch(b)).status).toBe('stored')
      // The old key goes on signing past the cut: refused, naming the key and the version.
      const [forged] = await batchesSignedBy(origin, members[0]!.feedKey, 1, 4)
      const refused = await codeAndDetails(() => replica.acceptBatch(forged!))
      expect(refused).toMatchObject({
        code: 'INVALID_SIGNATURE',
        details: { origin: 'hospital-a', treeSize: 4, retiredKey: toHex(oldPublic), version: 1 },
      })
      expect(replica.size('hospital-a')).toBe(3) // nothing stored
      // The new key's head at the same size is the feed's next batch.
      const fresh = new LogStore({
        path: join(dir, 'fresh-origin'),
        keys: makeStoreKeys(),
        originKey: (o, size) => again.storedKeyAt(o, size),
      })
      await fresh.open()
      try {
        for (const b of await origin.readBatches('hospital-a', 1, 3)) await fresh.acceptBatch(b)
        const [next] = await batchesSignedBy(fresh, newKey, 1, 4)
        expect((await replica.acceptBatch(next!)).status).toBe('stored')
        expect((await replica.verify()).ok).toBe(true)
      } finally {
        await fresh.close()
      }
    } finally {
      await origin.close()
      await replica.close()
    }
  })

  it('a removed member is frozen at its size in the last checkpoint before the change', async () => {
    const dir = await tempDir()
    const remove = await signedChange(
      MembershipHistory.fromChain(network, []).versions[0]!,
      { type: 'remove', name: 'hospital-d' },
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    const source = { history: MembershipHistory.fromChain(network, [remove]) }
    const originKeys = new OriginKeys(source, dir)
    originKeys.noteApplied(1, checkpointAt(0, { 'hospital-d': 2 }))
    const dKey = ed25519RawPublicKey(members[3]!.feedKey)
    expect(originKeys.keyAt('hospital-d', 2)).toEqual(dKey)
    expect(originKeys.keyAt('hospital-d', 3)).toBeUndefined()
    expect(originKeys.headKeys('hospital-d', 3).retired.map((r) => r.upTo)).toEqual([2])
    // Its heads stored before the removal was applied here still verify.
    expect(originKeys.storedKeyAt('hospital-d', 5)).toEqual(dKey)
    // The others are untouched.
    expect(originKeys.keyAt('hospital-b', 10_000)).toEqual(ed25519RawPublicKey(members[1]!.feedKey))
    await originKeys.flushed()
  })
})
