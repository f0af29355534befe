import type { KeyObject } from 'node:crypto'
import { ClassicLevel } from 'classic-level'
import { makeEntry, readChainFields } from '../node/core/entry.ts'
import { fromHex } from '../node/core/hex.ts'
import { hashLeaf, MemoryTree } from '../node/core/merkle/index.ts'
import { signTreeHead } from '../node/core/tree-head.ts'
import {
  entryKey,
  feedTag,
  headKey,
  PREFIX,
  prefixRange,
  seqOfKey,
} from '../node/store/format/key-layout.ts'
import {
  decodeEntryRecord,
  encodeEntryRecord,
  encodeHeadRecord,
} from '../node/store/format/records.ts'
import { ValueCipher } from '../node/store/format/value-cipher.ts'
import type { StoreKeys } from '../node/store/index.ts'

/**
 * What an attacker with access to a CLOSED store's LevelDB can do: raw byte edits (no
 * keys), and, as an insider who also stole the node's store keys, re-encrypted edits.
 * For tests and `npm run tamper-demo` only: it reaches into the store's key layout on purpose.
 */
export class Tamperer {
  readonly db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #tag: Buffer

  constructor(path: string, keys: StoreKeys, origin: string) {
    this.db = new ClassicLevel<Buffer, Buffer>(path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    })
    this.#cipher = new ValueCipher(keys.valueKey)
    this.#tag = feedTag(keys.indexKey, origin)
  }

  open(): Promise<void> {
    return this.db.open()
  }

  close(): Promise<void> {
    return this.db.close()
  }

  /** No keys needed: flip one byte in the middle of an entry's stored value. */
  async flipByte(seq: number): Promise<void> {
    const key = entryKey(this.#tag, seq)
    const value = Buffer.from((await this.db.get(key))!)
    value[Math.floor(value.length / 2)]! ^= 0x01
    await this.db.put(key, value)
  }

  async deleteEntry(seq: number): Promise<void> {
    await this.db.del(entryKey(this.#tag, seq))
  }

  /** Deletes entries from `fromSeq` on; with `rollBackHeads`, also the heads above, so the store looks whole. */
  async truncate(fromSeq: number, rollBackHeads: boolean): Promise<void> {
    const { lt } = prefixRange(Buffer.concat([Buffer.of(PREFIX.entry), this.#tag]))
    for await (const key of this.db.keys({ gte: entryKey(this.#tag, fromSeq), lt }))
      await this.db.del(key)
    if (!rollBackHeads) return
    const heads = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), this.#tag]))
    for await (const key of this.db.keys({ gte: headKey(this.#tag, fromSeq), lt: heads.lt }))
      await this.db.del(key)
  }

  async readPlain(seq: number): Promise<{ nodes: Uint8Array[]; entryBytes: Uint8Array }> {
    const key = entryKey(this.#tag, seq)
    const record = decodeEntryRecord(this.#cipher.open(key, (await this.db.get(key))!)!)
    return {
      nodes: record.nodes.map((n) => new Uint8Array(n)),
      entryBytes: new Uint8Array(record.entryBytes),
    }
  }

  async writePlain(seq: number, nodes: Uint8Array[], entryBytes: Uint8Array): Promise<void> {
    const key = entryKey(this.#tag, seq)
    await this.db.put(key, this.#cipher.seal(key, encodeEntryRecord(nodes, entryBytes)))
  }

  /** Insider: swaps the contents of two entries, re-encrypted so both still authenticate. */
  async swap(a: number, b: number): Promise<void> {
    const [ra, rb] = [await this.readPlain(a), await this.readPlain(b)]
    await this.writePlain(a, ra.nodes, rb.entryBytes)
    await this.writePlain(b, rb.nodes, ra.entryBytes)
  }

  /** Insider: rewrites the notes of an entry (keeping its seq and prev), re-encrypted. */
  async rewriteNotes(seq: number, notes: string): Promise<void> {
    const { nodes, entryBytes } = await this.readPlain(seq)
    const e = readChainFields(entryBytes)
    const body = { ...(e.body as Record<string, unknown>), notes }
    const forged = makeEntry(
      e.origin,
      e.seq,
      fromHex(e.prev, 32),
      e.kind,
      body,
      new Date(e.recorded),
    )
    await this.writePlain(seq, nodes, forged.bytes)
  }

  /**
   * Insider: rewrites the notes of every entry from `fromSeq` to the tail and links each to
   * its forged predecessor, so the hash chain holds (only re-signed heads and the cosigned
   * checkpoint are left to tell). Returns how many entries were rewritten.
   */
  async rewriteChainFrom(fromSeq: number, notes: string): Promise<number> {
    let prev = hashLeaf((await this.readPlain(fromSeq - 1)).entryBytes)
    let count = 0
    for (let seq = fromSeq; ; seq++) {
      const record = await this.readPlain(seq).catch(() => undefined)
      if (!record) return count
      const e = readChainFields(record.entryBytes)
      const body = { ...(e.body as Record<string, unknown>), notes }
      const forged = makeEntry(e.origin, e.seq, prev, e.kind, body, new Date(e.recorded))
      await this.writePlain(seq, record.nodes, forged.bytes)
      prev = hashLeaf(forged.bytes)
      count++
    }
  }

  /** Insider: writes an entry after the tail that no signed head covers. */
  async insertAfterTail(seq: number, origin: string, body: unknown): Promise<void> {
    const prev = await this.readPlain(seq - 1)
    const forged = makeEntry(origin, seq, hashLeaf(prev.entryBytes), 'event', body, new Date())
    await this.writePlain(seq, [], forged.bytes)
  }

  /** Every entry's leaf hash, in seq order (for recomputing roots as an attacker would). */
  async leafHashes(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    const range = prefixRange(Buffer.concat([Buffer.of(PREFIX.entry), this.#tag]))
    for await (const [key, value] of this.db.iterator(range)) {
      out[seqOfKey(key) - 1] = hashLeaf(
        decodeEntryRecord(this.#cipher.open(key, value)!).entryBytes,
      )
    }
    return out
  }

  /** Re-signs every existing head from `fromSize` on, over the current entries, with `key`. */
  async resignHeads(origin: string, fromSize: number, key: KeyObject): Promise<number> {
    const tree = new MemoryTree()
    for (const leaf of await this.leafHashes()) tree.append(leaf)
    const range = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), this.#tag]))
    let count = 0
    for await (const hk of this.db.keys({ gte: headKey(this.#tag, fromSize), lt: range.lt })) {
      const size = seqOfKey(hk)
      const head = signTreeHead(key, origin, size, tree.root(size))
      await this.db.put(hk, this.#cipher.seal(hk, encodeHeadRecord(head.root, head.signature)))
      count++
    }
    return count
  }
}
