import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey, isTreeHeadSignatureValid } from '../../node/core/tree-head.ts'
import { MembershipHistory, type SignedProposal } from '../../node/core/trust/index.ts'
import type { NodeIdentity } from '../../node/identity/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import { OriginKeys } from '../../node/membership/origin-keys.ts'
import { type LoadedNextKeys, OwnRotation } from '../../node/membership/own-rotation.ts'
import { LogStore, type Signer } from '../../node/store/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'
import { makeEvent, makeStoreKeys } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * The rotating node's side of a held Ed25519 rotation, on a real LogStore and a real
 * LiveMembership (no network: the append is the store's own): the marker is the last entry
 * the old key signs, with no hold; a node restarted between the change and its marker signs
 * the marker with keys.enc's key first.
 */

let members: TestMember[]
let network: { members: unknown[]; vrfPublicKey: string }
let newSeed: Uint8Array
let newKey: KeyObject
let rotate: SignedProposal

beforeAll(async () => {
  members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  network = { members: members.map((m) => m.identity), vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
  const pair = generateKeyPairSync('ed25519')
  newKey = pair.privateKey
  const jwk = newKey.export({ format: 'jwk' }) as { d: string }
  newSeed = new Uint8Array(Buffer.from(jwk.d, 'base64url'))
  rotate = await signedChange(
    MembershipHistory.fromChain(network, []).versions[0]!,
    {
      type: 'rotate-ed25519',
      name: 'hospital-a',
      ed25519PublicKey: toHex(ed25519RawPublicKey(newKey)),
      oldKey: 'held',
    },
    ['hospital-a', 'hospital-b'],
    new Map(members.map((m) => [m.identity.name, m])),
  )
})

const newHex = () => toHex(ed25519RawPublicKey(newKey))

function rotationOf(
  dir: string,
  live: LiveMembership,
  originKeys: OriginKeys,
  store: LogStore,
  signer: Signer,
): OwnRotation {
  const a = members[0]!
  const next = {
    ed25519Seed: newSeed,
    ed25519PublicKey: newHex(),
    blsSecretKey: a.bls,
    blsPublicKey: a.identity.blsPublicKey,
    blsProofOfPossession: a.identity.blsProofOfPossession,
    libp2pPrivateKey: new Uint8Array(0),
    createdAt: new Date().toISOString(),
    sealed: 'not installed in this test',
  } as LoadedNextKeys
  const holder = { current: undefined as LoadedNextKeys | undefined }
  return new OwnRotation({
    self: 'hospital-a',
    dir,
    live,
    originKeys,
    signer,
    identity: { identity: a.identity, signingKey: signer.privateKey } as unknown as NodeIdentity,
    installedSigningKey: a.feedKey,
    next: {
      get current() {
        return holder.current
      },
      set current(k) {
        holder.current = k
      },
      read: async () => next,
    },
    append: (items, marker) => store.appendEntries(marker, items),
    store,
    addBlsSecretKey: () => {},
    logger: silentLogger(),
    retryMs: 50,
  })
}

/** Each head of hospital-a's own feed, with the key that signed it ('old' or 'new'). */
async function signersOf(store: LogStore): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = []
  for await (const head of store.heads('hospital-a')) {
    const byOld = isTreeHeadSignatureValid(head, ed25519RawPublicKey(members[0]!.feedKey))
    const byNew = isTreeHeadSignatureValid(head, fromHex(newHex(), 32)!)
    out.push([head.treeSize, byOld ? 'old' : byNew ? 'new' : 'none'])
  }
  return out
}

describe("the rotating node's marker", () => {
  const tempDir = useTempDirs()

  it('at the change: the marker is the last head the old key signs, every later one the new key’s; appends never held', async () => {
    const dir = await tempDir()
    const live = new LiveMembership(MembershipHistory.fromChain(network, []))
    const originKeys = new OriginKeys(live)
    const store = new LogStore({
      path: join(dir, 'db'),
      keys: makeStoreKeys(),
      originKey: (o, n) => originKeys.storedKeyAt(o, n),
    })
    await store.open()
    const signer = { origin: 'hospital-a', privateKey: members[0]!.feedKey }
    const rotation = rotationOf(dir, live, originKeys, store, signer)
    try {
      await rotation.start()
      await store.appendEvents(signer, [makeEvent(1), makeEvent(2)])
      live.offer(rotate)
      await live.applyPending()
      // Appends go on while the node reads its next keys and appends the marker.
      const during = store.appendEvents(signer, [makeEvent(3)])
      expect(store.appendHoldOf('hospital-a')).toBeUndefined()
      await during
      await waitFor(
        'the new key in the signer',
        () => toHex(ed25519RawPublicKey(signer.privateKey)) === newHex(),
      )
      await store.appendEvents(signer, [makeEvent(4)])
      const heads = await signersOf(store)
      // The marker lands after event 3 or before it (the change's listener reads the next keys
      // first): either way it is the last head the old key signs.
      let m = 0
      for await (const { entry } of store.entries('hospital-a')) {
        if ((entry.body as { op?: string }).op === 'key-rotated') {
          expect(entry.body).toMatchObject({ version: 1, ed25519PublicKey: newHex() })
          m = entry.seq
        }
      }
      expect([3, 4]).toContain(m)
      expect(heads.at(-1)).toEqual([5, 'new'])
      for (const [size, by] of heads) expect(by, `head at ${size}`).toBe(size <= m ? 'old' : 'new')
      expect(heads.some(([size]) => size === m)).toBe(true)
      expect(originKeys.erasOf('hospital-a').map((e) => e.upTo)).toEqual([m, Infinity])
      expect((await store.verify()).ok).toBe(true)
    } finally {
      rotation.stop()
      await store.close()
    }
  })

  it('restarted between the change and its marker: signs the marker with keys.enc’s key first', async () => {
    const dir = await tempDir()
    // Version 1 is in force at start; the folder holds the new key (withNextKeys gave it to
    // the signer), and the feed has no marker yet.
    const live = new LiveMembership(MembershipHistory.fromChain(network, [rotate]))
    const originKeys = new OriginKeys(live)
    const keys = makeStoreKeys()
    const before = new LogStore({ path: join(dir, 'db'), keys, originKey: () => undefined })
    await before.open()
    await before.appendEvents({ origin: 'hospital-a', privateKey: members[0]!.feedKey }, [
      makeEvent(1),
    ])
    await before.close()
    const store = new LogStore({
      path: join(dir, 'db'),
      keys,
      originKey: (o, n) => originKeys.storedKeyAt(o, n),
    })
    await store.open()
    const signer = { origin: 'hospital-a', privateKey: newKey }
    const rotation = rotationOf(dir, live, originKeys, store, signer)
    try {
      await rotation.start()
      await waitFor('the marker', () => store.size('hospital-a') === 2)
      await waitFor(
        'the new key in the signer',
        () => toHex(ed25519RawPublicKey(signer.privateKey)) === newHex(),
      )
      await store.appendEvents(signer, [makeEvent(2)])
      expect(await signersOf(store)).toEqual([
        [1, 'old'],
        [2, 'old'],
        [3, 'new'],
      ])
      expect((await store.verify()).ok).toBe(true)
    } finally {
      rotation.stop()
      await store.close()
    }
  })
})
