import type { ClassicLevel } from 'classic-level'
import { EhrlogError } from '../core/errors.ts'
import {
  completeSubtrees,
  consistencyProofRanges,
  foldSubtrees,
  hashLeaf,
  inclusionProofRanges,
  type NodeId,
} from '../core/merkle/index.ts'
import { entryKey, type FeedTag } from './key-layout.ts'
import { decodeEntryRecord } from './records.ts'
import type { ValueCipher } from './value-cipher.ts'

/**
 * Reads a feed's RFC 9162 tree from the entry records. Node (level, index) covers leaves
 * [index·2^level, (index+1)·2^level) and is stored in the record of its last leaf: level 0
 * is that leaf's hash, level L ≥ 1 the L-th hash in the record (docs/merkle.md). Each proof
 * is planned in core, its nodes fetched in one getMany, then folded in core.
 */
export class TreeReader {
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #tag: FeedTag

  constructor(db: ClassicLevel<Buffer, Buffer>, cipher: ValueCipher, tag: FeedTag) {
    this.#db = db
    this.#cipher = cipher
    this.#tag = tag
  }

  /** The hashes of complete nodes, in the order asked. */
  async nodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    const seqs = [...new Set(ids.map((id) => (id.index + 1) * 2 ** id.level))]
    const keys = seqs.map((seq) => entryKey(this.#tag, seq))
    const values = await this.#db.getMany(keys)
    const records = new Map<number, ReturnType<typeof decodeEntryRecord>>()
    values.forEach((value, i) => {
      const plain = value === undefined ? undefined : this.#cipher.open(keys[i]!, value)
      if (!plain) {
        throw new EhrlogError(
          'STORE_CORRUPT',
          `tree node record at seq ${seqs[i]} is missing or modified`,
          {
            details: { seq: seqs[i] },
          },
        )
      }
      records.set(seqs[i]!, decodeEntryRecord(plain))
    })
    return ids.map((id) => {
      const record = records.get((id.index + 1) * 2 ** id.level)!
      if (id.level === 0) return hashLeaf(record.entryBytes)
      const hash = record.nodes[id.level - 1]
      if (!hash) {
        throw new EhrlogError(
          'STORE_CORRUPT',
          `record lacks tree node level ${id.level} index ${id.index}`,
        )
      }
      return new Uint8Array(hash)
    })
  }

  /** MTH of leaves [start, end). */
  async rangeHash(start: number, end: number): Promise<Uint8Array> {
    return foldSubtrees(await this.nodes(completeSubtrees(start, end)))
  }

  /** Complete subtree hashes covering [0, size), left to right: enough to resume appending. */
  frontier(size: number): Promise<Uint8Array[]> {
    return size === 0 ? Promise.resolve([]) : this.nodes(completeSubtrees(0, size))
  }

  inclusionProof(index: number, treeSize: number): Promise<Uint8Array[]> {
    return this.#foldRanges(inclusionProofRanges(index, treeSize))
  }

  consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    return this.#foldRanges(consistencyProofRanges(oldSize, newSize))
  }

  async #foldRanges(ranges: Array<[number, number]>): Promise<Uint8Array[]> {
    const plans = ranges.map(([start, end]) => completeSubtrees(start, end))
    const hashes = await this.nodes(plans.flat())
    const out: Uint8Array[] = []
    let at = 0
    for (const plan of plans) {
      out.push(foldSubtrees(hashes.slice(at, at + plan.length)))
      at += plan.length
    }
    return out
  }
}
