import type { ClassicLevel } from 'classic-level'
import { decodeEntry, type EncodedEntry } from '../../core/entry.ts'
import { EhrlogError } from '../../core/errors.ts'
import type { SignedTreeHead } from '../../core/tree-head.ts'
import type { FeedState } from '../feed-state.ts'
import { entryKey, headKey, seqOfKey } from '../format/key-layout.ts'
import { decodeEntryRecord, decodeHeadRecord } from '../format/records.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import type { FeedBatch } from '../write/feed-batch.ts'
import type { EntryRef } from '../write/indexes.ts'

/** Entries per LevelDB read when streaming a feed's raw records. */
const READ_BATCH = 1000

/**
 * Reads of committed entries and heads: only what is on disk (a feed's committed size),
 * decrypted; entries decoded, except where a reader needs only their stored bytes.
 */
export class EntryReader {
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #feedOf: (origin: string) => FeedState | undefined

  constructor(
    db: ClassicLevel<Buffer, Buffer>,
    cipher: ValueCipher,
    feedOf: (origin: string) => FeedState | undefined,
  ) {
    this.#db = db
    this.#cipher = cipher
    this.#feedOf = feedOf
  }

  /** One entry, decrypted and decoded; undefined when absent. Throws STORE_CORRUPT if unreadable. */
  async getEntry(origin: string, seq: number): Promise<EncodedEntry | undefined> {
    const feed = this.#feedOf(origin)
    if (!feed || seq < 1 || seq > feed.committed.size) return undefined
    const key = entryKey(feed.tag, seq)
    const value = await this.#db.get(key)
    return value === undefined ? undefined : decodeEntry(this.#entryBytes(key, value))
  }

  /** Entries [fromSeq, toSeq] of a feed in seq order. */
  async *entries(
    origin: string,
    fromSeq = 1,
    toSeq = Number.MAX_SAFE_INTEGER,
  ): AsyncGenerator<EncodedEntry> {
    const feed = this.#feedOf(origin)
    if (!feed || feed.committed.size === 0) return
    const range = {
      gte: entryKey(feed.tag, Math.max(1, fromSeq)),
      lte: entryKey(feed.tag, Math.min(toSeq, feed.committed.size)),
    }
    for await (const [key, value] of this.#db.iterator(range))
      yield decodeEntry(this.#entryBytes(key, value))
  }

  /** Many entries by reference, in the order asked; absent ones are skipped. */
  async getEntries(refs: readonly EntryRef[]): Promise<EncodedEntry[]> {
    const keys: Buffer[] = []
    for (const ref of refs) {
      const feed = this.#feedOf(ref.origin)
      if (feed && ref.seq <= feed.committed.size) keys.push(entryKey(feed.tag, ref.seq))
    }
    const values = await this.#db.getMany(keys)
    const out: EncodedEntry[] = []
    values.forEach((value, i) => {
      if (value !== undefined) out.push(decodeEntry(this.#entryBytes(keys[i]!, value)))
    })
    return out
  }

  /** Signed heads of a feed with fromSize <= treeSize <= its size on disk, in size order. */
  async *heads(origin: string, fromSize = 1): AsyncGenerator<SignedTreeHead> {
    const feed = this.#feedOf(origin)
    if (!feed || feed.committed.size === 0) return
    const range = { gte: headKey(feed.tag, fromSize), lte: headKey(feed.tag, feed.committed.size) }
    for await (const [key, value] of this.#db.iterator(range)) {
      const plain = this.#cipher.open(key, value)
      if (!plain)
        throw new EhrlogError('STORE_CORRUPT', `a signed head of ${origin} fails authentication`)
      const { root, signature } = decodeHeadRecord(plain)
      yield {
        origin,
        treeSize: seqOfKey(key),
        root: new Uint8Array(root),
        signature: new Uint8Array(signature),
      }
    }
  }

  /**
   * Batches of about `maxEntries` entries from `fromSeq` on, each ending at a signed head
   * this store holds, so the receiver can verify each batch on its own. Entries go out as
   * stored, without decoding: the receiver verifies every byte anyway. A batch with a
   * record that does not open (damaged here) ends the answer: only what verifies is sent.
   */
  async readBatches(origin: string, fromSeq: number, maxEntries: number): Promise<FeedBatch[]> {
    const feed = this.#feedOf(origin)
    if (!feed || fromSeq > feed.committed.size) return []
    const heads: SignedTreeHead[] = []
    let last = fromSeq - 1
    for await (const head of this.heads(origin, fromSeq)) {
      heads.push(head)
      last = head.treeSize
      if (last - fromSeq + 1 >= maxEntries) break
    }
    if (heads.length === 0) return []
    const iterator = this.#db.iterator({
      gte: entryKey(feed.tag, fromSeq),
      lte: entryKey(feed.tag, last),
    })
    const batches: FeedBatch[] = []
    try {
      let entries: Uint8Array[] = []
      let expected = fromSeq
      let h = 0
      for (;;) {
        const chunk = await iterator.nextv(READ_BATCH)
        if (chunk.length === 0) break
        for (const [key, value] of chunk) {
          const plain = seqOfKey(key) === expected ? this.#cipher.open(key, value) : undefined
          if (!plain) return batches // missing or damaged here
          const bytes = decodeEntryRecord(plain).entryBytes // a view: no copy
          entries.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
          if (expected === heads[h]!.treeSize) {
            batches.push({ origin, entries, head: heads[h]! })
            entries = []
            h++
          }
          expected++
        }
      }
      return batches
    } finally {
      await iterator.close()
    }
  }

  #entryBytes(key: Buffer, value: Buffer): Uint8Array {
    const plain = this.#cipher.open(key, value)
    if (!plain)
      throw new EhrlogError(
        'STORE_CORRUPT',
        'a stored entry fails authentication (modified on disk); run `ehrlog verify`',
      )
    // A view, not a copy: the plaintext is this entry's alone and nothing writes to it.
    const bytes = decodeEntryRecord(plain).entryBytes
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
}
