import { describe, expect, it } from 'vitest'
import { decodeEntry } from '../../node/core/entry.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { OwnFeed } from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore, ownFeedOn } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')

describe('OwnFeed', () => {
  const tempDir = useTempDirs()

  it('appends one signed batch, then gossips exactly the stored bytes and head', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    const { feed, published } = ownFeedOn(store, A)
    const { entries, head } = await feed.append([
      { kind: 'event', body: makeEvent(1) },
      { kind: 'event', body: makeEvent(2) },
    ])
    expect(feed.origin).toBe('hospital-a')
    expect(head.treeSize).toBe(2)
    expect(published).toHaveLength(1)
    expect(published[0]!.head).toEqual(head)
    expect(published[0]!.entries).toEqual(entries.map((e) => e.bytes))
    expect(decodeEntry(published[0]!.entries[1]!).entry.seq).toBe(2)
    await store.close()
  })

  it('an append that is durable resolves even when the network refuses to gossip it', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    const feed = new OwnFeed({
      store,
      signer: A,
      gossip: {
        publish: () => {
          throw new EhrlogError('UNAVAILABLE', 'network is new, cannot publish')
        },
      },
      logger: silentLogger(),
    })
    const { head } = await feed.append([{ kind: 'event', body: makeEvent(1) }])
    expect(head.treeSize).toBe(1)
    expect(store.size('hospital-a')).toBe(1)
    await store.close()
  })
})
