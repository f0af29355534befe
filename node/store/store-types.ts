import type { KeyObject } from 'node:crypto'
import type { ClassicLevel } from 'classic-level'
import type { EntryKind } from '../core/entry.ts'
import type { FeedTag } from './key-layout.ts'
import type { ValueCipher } from './value-cipher.ts'

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

/** Internals that verify-replica.ts and feed-reads.ts read; not exported from the folder. */
export interface StoreInternals {
  db: ClassicLevel<Buffer, Buffer>
  cipher: ValueCipher
  /** For verify's worker threads, which seal nothing: they only open values. */
  valueKey: Uint8Array
  originKey: (origin: string) => Uint8Array | undefined
  feeds: ReadonlyMap<string, { origin: string; tag: FeedTag; committed: { size: number } }>
}
