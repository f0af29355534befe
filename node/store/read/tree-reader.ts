import type { ClassicLevel } from 'classic-level'
import { EhrlogError, isEhrlogError } from '../../core/errors.ts'
import {
  completeSubtrees,
  consistencyProofRanges,
  foldInclusionProofs,
  foldSubtrees,
  hashLeaf,
  type InclusionRequest,
  inclusionProofRanges,
  type NodeId,
  planInclusionProofs,
} from '../../core/merkle/index.ts'
import { entryKey, type FeedTag } from '../format/key-layout.ts'
import { decodeEntryRecord } from '../format/records.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import type { FeedTreeCache, TreeCache } from './tree-cache.ts'

/**
 * Reads a feed's RFC 9162 tree from the entry records. Node (level, index) covers leaves
 * [index·2^level, (index+1)·2^level) and is stored in the record of its last leaf: level 0
 * is that leaf's hash, level L ≥ 1 the L-th hash in the record (docs/merkle.md). Each proof
 * is planned in core, its nodes fetched in one getMany, then folded in core. With a
 * TreeCache, nodes it holds are not read, and every node of a record read is offered to it.
 */
export class TreeReader {
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #tag: FeedTag
  readonly #cache: FeedTreeCache | undefined

  constructor(
    db: ClassicLevel<Buffer, Buffer>,
    cipher: ValueCipher,
    tag: FeedTag,
    cache?: TreeCache,
  ) {
    this.#db = db
    this.#cipher = cipher
    this.#tag = tag
    this.#cache = cache?.feed(tag)
  }

  /** The hashes of complete nodes, in the order asked. */
  async nodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    const cache = this.#cache
    const cached = ids.map((id) => (id.level === 0 ? undefined : cache?.get(id.level, id.index)))
    const seqs = [
      ...new Set(ids.flatMap((id, i) => (cached[i] ? [] : [(id.index + 1) * 2 ** id.level]))),
    ]
    if (seqs.length === 0) return cached as Uint8Array[]
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
      const record = decodeEntryRecord(plain)
      records.set(seqs[i]!, record)
      // The record of seq s holds node (L, s / 2^L - 1) at level L = 1, 2, …
      if (cache)
        record.nodes.forEach((hash, l) => {
          const index = seqs[i]! / 2 ** (l + 1) - 1
          // A well-formed record holds no more levels than its seq's trailing zero bits.
          if (Number.isInteger(index)) cache.put(l + 1, index, hash)
        })
    })
    return ids.map((id, i) => {
      if (cached[i]) return cached[i]
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

  /**
   * Reads every complete node of `level` in a tree of `size` leaves, in chunks, so a cache
   * takes them and the levels above (their records hold those too). Stops when `stop()` says
   * so between chunks, or at a damaged record (the scrub names it).
   */
  async warm(size: number, level: number, stop: () => boolean): Promise<void> {
    const CHUNK = 1024
    const count = Math.floor(size / 2 ** level)
    for (let first = 0; first < count && !stop(); first += CHUNK) {
      const ids: NodeId[] = []
      for (let index = first; index < Math.min(count, first + CHUNK); index++)
        ids.push({ level, index })
      try {
        await this.nodes(ids)
      } catch (err) {
        if (isEhrlogError(err, 'STORE_CORRUPT')) return
        throw err
      }
    }
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

  /**
   * PATH(index, D[treeSize]) for each request, in order, equal to `inclusionProof` of each:
   * every node shared by several proofs (the levels near the root) is read and hashed once.
   */
  async inclusionProofs(requests: readonly InclusionRequest[]): Promise<Uint8Array[][]> {
    const plan = planInclusionProofs(requests)
    return foldInclusionProofs(plan, await this.nodes(plan.nodes))
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
