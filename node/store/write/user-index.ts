import { readChainFields } from '../../core/entry.ts'
import { metaKey, PREFIX, prefixRange, seqOfKey } from '../format/key-layout.ts'
import { decodeEntryRecord } from '../format/records.ts'
import type { StoreAccess } from '../store-access.ts'
import type { Indexes } from './indexes.ts'
import { sealingSink } from './seal-worker.ts'

/** M ‖ "user-index": present once every user record of the store has its U posting. */
export const USER_INDEX_MARKER = metaKey('user-index')

/**
 * Stores written before the U postings existed get them once, at open: one pass over the
 * entries of every feed, then the marker, in one batch. A store with the marker skips this.
 * Unreadable records are skipped here; verify names them and repair restores them.
 */
export async function ensureUserIndex(store: StoreAccess, indexes: Indexes): Promise<void> {
  if ((await store.db.get(USER_INDEX_MARKER)) !== undefined) return
  const batch = store.db.batch()
  for (const feed of store.feeds.values()) {
    const userSeqs: number[] = []
    const range = prefixRange(Buffer.concat([Buffer.of(PREFIX.entry), feed.tag]))
    for await (const [key, value] of store.db.iterator(range)) {
      const plain = store.cipher.open(key, value)
      if (!plain) continue
      try {
        if (readChainFields(decodeEntryRecord(plain).entryBytes).kind === 'user')
          userSeqs.push(seqOfKey(key))
      } catch {
        // not an entry we can read: verify reports it
      }
    }
    if (userSeqs.length > 0)
      indexes.addBatchOps(sealingSink(store.cipher, batch), feed.tag, { events: [], userSeqs })
  }
  batch.put(USER_INDEX_MARKER, store.cipher.seal(USER_INDEX_MARKER, Buffer.of(1)))
  await batch.write({ sync: true })
}
