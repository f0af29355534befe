import type { KeyObject } from 'node:crypto'
import type { EntryKind } from '../core/entry.ts'
import type { TREE_CACHE_DEFAULTS } from './read/tree-cache.ts'

/** What acceptBatch checks a head of one origin and size against (LogStoreOptions.headKeys). */
export interface HeadKeys {
  /** Undefined: nothing of that origin at that size may be stored (not, or no longer, a member). */
  key: Uint8Array | undefined
  /** Keys that signed the origin's heads up to `upTo` only (membership `version` retired them). */
  retired: ReadonlyArray<{ key: Uint8Array; upTo: number; version: number }>
}

export interface StoreKeys {
  valueKey: Uint8Array
  indexKey: Uint8Array
}

/** Who appends to its own feed: the origin name and its tree-head signing key. */
export interface Signer {
  origin: string
  privateKey: KeyObject
}

export interface AppendItem {
  kind: EntryKind
  body: unknown
}

/**
 * Proof that a client request was appended, written in the same batch as its entries, so a
 * retried request (same idempotency key) after a crash finds it and is not appended twice.
 */
export interface Receipt {
  requestKey: string
  /** SHA-256 of the request body, hex: a key reused with another body is refused. */
  bodyHash: string
  /** Index of the request's first item in the append, and how many items it has. */
  firstItem: number
  count: number
}

export interface StoredReceipt {
  origin: string
  firstSeq: number
  count: number
  bodyHash: string
}

export interface LogStoreOptions {
  /** Folder of the LevelDB database. */
  path: string
  keys: StoreKeys
  /**
   * An origin's Ed25519 tree-head key for its stored head of `treeSize` (from identity or the
   * membership: a rotated key signs the heads up to its cut); undefined: not a member.
   */
  originKey: (origin: string, treeSize: number) => Uint8Array | undefined
  /**
   * The key a batch head from another node must be signed with, and the keys of the origin
   * retired before that size (rotated out, or the origin removed: its feed frozen). Default:
   * originKey and none retired. `entries`: the batch's entry bytes (a key rotation's marker
   * among them ends the old key's era there: node/membership/origin-keys.ts).
   */
  headKeys?: (origin: string, treeSize: number, entries?: readonly Uint8Array[]) => HeadKeys
  /** fsync each batch (default true), so an acknowledged append survives power loss too. */
  sync?: boolean
  /** Overrides of LEVELDB_TUNING (benchmarks, experiments). */
  leveldb?: Partial<typeof LEVELDB_TUNING>
  /** Bounds of the cache of upper tree levels that proofs read (read/tree-cache.ts). */
  treeCache?: Partial<typeof TREE_CACHE_DEFAULTS>
}

/** One inclusion proof asked for: entry `seq` (1-based) of a feed, in its tree of `treeSize`. */
export interface ProofRequest {
  seq: number
  treeSize: number
}

/**
 * LevelDB sizes, chosen to bound memory (docs/performance.md). RSS counts the memtables (up
 * to two of writeBufferSize), the block cache, and every page LevelDB has read of the table
 * files it keeps mmapped: those in its table cache, maxOpenFiles - 10 tables (74 is
 * LevelDB's floor) of up to maxFileSize each, plus level-0 files, each a memtable's size.
 * With LevelDB's defaults (1,000 open files) every table page a verify reads stays mapped:
 * ~190 MB of RSS after verifying 300k entries, growing with the store. Memtables of 2 MiB
 * (4 before) took the store benchmark's peak RSS at 1M entries from ~306 to ~298 MiB for
 * ~2 µs more compaction CPU per appended entry, on the other core. Measured again in session
 * 10: 8 MiB cuts LevelDB's compaction CPU (syslog ingest: ~9 µs less per message on the
 * receiving node, ~5 on each replica) but adds its level-0 tables to the pages verify maps,
 * and at 2 MiB the peak is already at or above 300 MiB under CPU contention, so none larger
 * fits the target with a margin: kept at 2 MiB.
 */
export const LEVELDB_TUNING = {
  writeBufferSize: 2 * 2 ** 20,
  maxFileSize: 2 ** 20,
  maxOpenFiles: 74,
  cacheSize: 8 * 2 ** 20,
  /**
   * Table blocks of 16 KiB, not LevelDB's 4: an entry record is ~1.4 KB, so a 4 KiB block
   * held two or three and every flush and compaction wrote an index entry, a restart array
   * and a checksum per few records. Session 11 (docs/performance.md): ~4.6 µs less CPU per
   * syslog message over the 3 nodes (better in 7 of 8 alternated pairs), the same query and
   * FHIR search latencies, store append, verify and peak RSS; ~1 % less disk. A point read
   * now reads and checksums a 16 KiB block.
   */
  blockSize: 16 * 2 ** 10,
}
