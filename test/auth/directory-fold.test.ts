import { describe, expect, it } from 'vitest'
import { type AcceptedBatches, DirectoryFold } from '../../node/auth/index.ts'
import { newKdfParams } from '../../node/core/auth/password-key.ts'
import type { UserRecord } from '../../node/core/auth/user-record.ts'
import { toHex } from '../../node/core/hex.ts'
import { silentLogger } from '../../node/logger.ts'
import type { FeedBatch } from '../../node/store/index.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore, ownFeedOn } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')
const B = makeSigner('hospital-b')

function register(username: string, publicKey = toHex(new Uint8Array(32).fill(7))): UserRecord {
  return {
    op: 'register',
    username,
    name: username,
    role: 'patient',
    publicKey,
    kdf: newKdfParams({ N: 2 ** 10, r: 8, p: 1 }),
  }
}

/** NetService.onAccepted as the fold sees it: `deliver` plays the network storing a batch. */
function acceptedBatches() {
  const listeners = new Set<(batch: FeedBatch, fromPeer: string) => void>()
  const source: AcceptedBatches = {
    onAccepted: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  const deliver = (batch: FeedBatch) => {
    for (const listener of listeners) listener(batch, 'peer')
  }
  return { source, deliver }
}

describe('DirectoryFold', () => {
  const tempDir = useTempDirs()

  it('loads every feed at start, follows stored batches until stop, and applies its own appends', async () => {
    // hospital-b's feed as another node wrote it: a batch already held, and one that arrives.
    const theirs = openStore(await tempDir(), makeStoreKeys(), [B])
    await theirs.open()
    const held = await theirs.appendEntries(B, [
      { kind: 'event', body: makeEvent(1) },
      { kind: 'user', body: register('bob@hospital-b') },
    ])
    const later = await theirs.appendEntries(B, [
      { kind: 'user', body: register('carol@hospital-b') },
    ])
    const last = await theirs.appendEntries(B, [
      { kind: 'user', body: register('erin@hospital-b') },
    ])
    const batchOf = ({ entries, head }: typeof held): FeedBatch => ({
      origin: 'hospital-b',
      entries: entries.map((e) => e.bytes),
      head,
    })
    await theirs.close()

    const store = openStore(await tempDir(), makeStoreKeys(), [A, B])
    await store.open()
    await store.acceptBatch(batchOf(held))
    const { feed, published } = ownFeedOn(store, A)
    const network = acceptedBatches()
    const fold = new DirectoryFold({
      store,
      feed,
      accepted: network.source,
      logger: silentLogger(),
    })
    await fold.start()
    expect(fold.directory.get('bob@hospital-b')?.status).toBe('active')

    network.deliver(batchOf(later))
    expect(fold.directory.get('carol@hospital-b')).toBeDefined()

    await fold.append([register('alice@hospital-a')])
    expect(fold.directory.get('alice@hospital-a')).toBeDefined()
    expect(store.size('hospital-a')).toBe(1)
    expect(published).toHaveLength(1)

    // A record peers would refuse never enters the feed.
    await expect(fold.append([register('dave@hospital-a', 'zz')])).rejects.toMatchObject({
      code: 'ENTRY_INVALID',
    })
    expect(store.size('hospital-a')).toBe(1)

    await fold.stop()
    await fold.stop()
    network.deliver(batchOf(last))
    expect(fold.directory.get('erin@hospital-b')).toBeUndefined() // no longer following
    const afterStop = new DirectoryFold({
      store,
      feed,
      accepted: acceptedBatches().source,
      logger: silentLogger(),
    })
    await afterStop.start() // a restart finds every record through the store's U postings
    for (const user of ['bob@hospital-b', 'alice@hospital-a'])
      expect(afterStop.directory.get(user)).toBeDefined()
    await store.close()
  })
})
