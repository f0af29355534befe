import type { EncodedEntry } from '../../core/entry.ts'
import type { SignedTreeHead } from '../../core/tree-head.ts'
import { proveInForkedTree } from '../read/forked-tree.ts'
import type { StoreAccess } from '../store-access.ts'
import type { VerifyOptions, VerifyReport } from '../verify/report.ts'
import {
  entryBytesOfValue,
  headSizeBefore,
  headSizes,
  lastHeadSize,
  rawRecords,
  repairCount,
} from './raw-reads.ts'

/**
 * Everything node/integrity reads of a replica to scrub it, repair it and prove an
 * equivocation, and nothing else (LogStore.scrubView). Two kinds of read:
 * - verified: authenticated and checked like every read of the store;
 * - unverified: keys and still-sealed values, read without trusting them, to size a repair
 *   and to fingerprint damage (raw-reads.ts).
 * Its one write is LogStore.repairFeed; appends are held through LogStore.holdAppends.
 */
export interface ScrubView {
  /** Streams through every feed and names each damaged entry (verify/verify-replica.ts). */
  verify(opts?: VerifyOptions): Promise<VerifyReport>
  /** Entries on disk of a feed (0 if none). */
  size(origin: string): number
  /** Damage found at open (the feed's tail or latest head unreadable), if any. */
  damageOf(origin: string): string | undefined
  /** One entry, decrypted and decoded; undefined when absent; STORE_CORRUPT if unreadable. */
  getEntry(origin: string, seq: number): Promise<EncodedEntry | undefined>
  /** Signed heads of a feed from `fromSize` on, in size order. */
  heads(origin: string, fromSize?: number): AsyncGenerator<SignedTreeHead>
  /** RFC 9162 root of the first `treeSize` entries of a feed. */
  rootAt(origin: string, treeSize: number): Promise<Uint8Array>
  /** Inclusion proof of entry `seq` in the tree of size `treeSize` (RFC 9162 2.1.3.1). */
  inclusionProof(origin: string, seq: number, treeSize: number): Promise<Uint8Array[]>
  /** Consistency proof between two sizes of a feed (RFC 9162 2.1.4.1). */
  consistencyProof(origin: string, oldSize: number, newSize: number): Promise<Uint8Array[]>
  /**
   * Root of, and inclusion proof in, this replica's first `prefixSize` leaves followed by
   * `leaves` (read/forked-tree.ts): equivocation evidence for a tree we never stored.
   */
  proveInForkedTree(
    origin: string,
    prefixSize: number,
    leaves: readonly Uint8Array[],
    index: number,
    treeSize: number,
  ): Promise<{ root: Uint8Array; proof: Uint8Array[] }>
  /** Unverified: sizes of a feed's head records from `fromSize` on, ascending (keys only). */
  headSizes(origin: string, fromSize: number, limit: number): Promise<number[]>
  /** Unverified: size of the last head record below `treeSize` (keys only); 0 when none. */
  headSizeBefore(origin: string, treeSize: number): Promise<number>
  /** Unverified: size of the feed's last head record on disk (keys only); 0 when none. */
  lastHeadSize(origin: string): Promise<number>
  /** Unverified: stored values, still sealed, of entry and head records; undefined where absent. */
  rawRecords(
    origin: string,
    seqs: readonly number[],
    treeSizes: readonly number[],
  ): Promise<Array<Buffer | undefined>>
  /** The entry bytes in a sealed value rawRecords read for `seq`; undefined if it does not open. */
  entryBytesOfValue(origin: string, seq: number, value: Buffer): Uint8Array | undefined
  /** How many repairs this store wrote to the feed (in the same batches as the repairs). */
  repairCount(origin: string): Promise<number>
}

/** The verified reads of a ScrubView, as LogStore provides them. */
export type VerifiedReads = Pick<
  ScrubView,
  | 'verify'
  | 'size'
  | 'damageOf'
  | 'getEntry'
  | 'heads'
  | 'rootAt'
  | 'inclusionProof'
  | 'consistencyProof'
>

/** A ScrubView of a store: `verified` is the LogStore, `access` throws unless it is open. */
export function scrubViewOf(verified: VerifiedReads, access: () => StoreAccess): ScrubView {
  return {
    verify: (opts) => verified.verify(opts),
    size: (origin) => verified.size(origin),
    damageOf: (origin) => verified.damageOf(origin),
    getEntry: (origin, seq) => verified.getEntry(origin, seq),
    heads: (origin, fromSize) => verified.heads(origin, fromSize),
    rootAt: (origin, treeSize) => verified.rootAt(origin, treeSize),
    inclusionProof: (origin, seq, treeSize) => verified.inclusionProof(origin, seq, treeSize),
    consistencyProof: (origin, oldSize, newSize) =>
      verified.consistencyProof(origin, oldSize, newSize),
    proveInForkedTree: (origin, prefixSize, leaves, index, treeSize) =>
      proveInForkedTree(access(), origin, prefixSize, leaves, index, treeSize),
    headSizes: (origin, fromSize, limit) => headSizes(access(), origin, fromSize, limit),
    headSizeBefore: (origin, treeSize) => headSizeBefore(access(), origin, treeSize),
    lastHeadSize: (origin) => lastHeadSize(access(), origin),
    rawRecords: (origin, seqs, treeSizes) => rawRecords(access(), origin, seqs, treeSizes),
    entryBytesOfValue: (origin, seq, value) => entryBytesOfValue(access(), origin, seq, value),
    repairCount: (origin) => repairCount(access(), origin),
  }
}
