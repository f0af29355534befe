import { decodeEntry, entryId } from '../../node/core/entry.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { bytesEqual, toHex } from '../../node/core/hex.ts'
import { GENESIS_PREV } from '../../node/core/layout.ts'
import { MerkleBuilder } from '../../node/core/merkle/index.ts'
import { type SignedTreeHead, verifyTreeHead } from '../../node/core/tree-head.ts'
import type { AcceptResult, FeedBatch, ReplicaStore } from '../../node/net/index.ts'

interface Feed {
  entries: Uint8Array[]
  hashes: Uint8Array[]
  heads: SignedTreeHead[]
  builder: MerkleBuilder
}

/**
 * ReplicaStore in memory with the real checks, for network tests: origin key, head
 * signature, decodeEntry, seq continuity, chain links and the RFC 9162 root. Every check
 * runs before anything is written, and nothing awaits in between, so a batch is stored whole
 * or not at all.
 */
export class MemoryReplicaStore implements ReplicaStore {
  readonly feeds = new Map<string, Feed>()
  /** Batches stored, with the peer each came from ('self' for local appends). */
  readonly received: Array<{ origin: string; treeSize: number; fromPeer: string }> = []

  constructor(private readonly originKeys: ReadonlyMap<string, Uint8Array>) {}

  async sizes(): Promise<Map<string, number>> {
    return new Map([...this.feeds].map(([origin, f]) => [origin, f.entries.length]))
  }

  size(origin: string): number {
    return this.feeds.get(origin)?.entries.length ?? 0
  }

  entries(origin: string): Uint8Array[] {
    return this.feeds.get(origin)?.entries ?? []
  }

  async readBatches(origin: string, fromSeq: number, maxEntries: number): Promise<FeedBatch[]> {
    const feed = this.feeds.get(origin)
    const batches: FeedBatch[] = []
    if (!feed) return batches
    let next = fromSeq
    let total = 0
    for (const head of feed.heads) {
      if (head.treeSize < next) continue
      const entries = feed.entries.slice(next - 1, head.treeSize)
      batches.push({ origin, entries, head })
      total += entries.length
      next = head.treeSize + 1
      if (total >= maxEntries) break
    }
    return batches
  }

  async acceptBatch(batch: FeedBatch, fromPeer: string): Promise<AcceptResult> {
    const { origin, head, entries } = batch
    const key = this.originKeys.get(origin)
    if (!key) throw new EhrlogError('ORIGIN_UNKNOWN', `origin ${origin} has no key here`)
    if (entries.length === 0 || head.origin !== origin || head.treeSize < entries.length) {
      throw new EhrlogError(
        'ENTRY_INVALID',
        `head (${head.origin}, ${head.treeSize}) does not fit ${entries.length} entries of ${origin}`,
      )
    }
    const feed = this.feeds.get(origin) ?? {
      entries: [],
      hashes: [],
      heads: [],
      builder: new MerkleBuilder(),
    }
    const have = feed.entries.length
    const first = head.treeSize - entries.length + 1
    if (first > have + 1) return { status: 'gap', have, want: first }
    verifyTreeHead(head, key)
    if (head.treeSize <= have) {
      const ours = new MerkleBuilder()
      for (const h of feed.hashes.slice(0, head.treeSize)) ours.append(h)
      if (!bytesEqual(ours.root(), head.root)) {
        throw new EhrlogError('EQUIVOCATION', `${origin} signed two roots at size ${head.treeSize}`)
      }
      return { status: 'duplicate', treeSize: have }
    }
    const builder = feed.builder.clone()
    let prev = feed.hashes[have - 1]
    const added: Array<{ bytes: Uint8Array; hash: Uint8Array }> = []
    for (let i = have - first + 1; i < entries.length; i++) {
      const { entry, hash } = decodeEntry(entries[i] as Uint8Array)
      const seq = builder.size + 1
      if (entry.origin !== origin || entry.seq !== seq) {
        throw new EhrlogError(
          'SEQ_MISMATCH',
          `entry ${entryId(entry.origin, entry.seq)} arrived where ${entryId(origin, seq)} belongs`,
        )
      }
      if (entry.prev !== (prev ? toHex(prev) : GENESIS_PREV)) {
        throw new EhrlogError(
          'CHAIN_BROKEN',
          `entry ${entryId(origin, seq)} does not link to the entry before it`,
        )
      }
      builder.append(hash)
      // Copy: the bytes may be a view into a network buffer.
      added.push({ bytes: new Uint8Array(entries[i] as Uint8Array), hash })
      prev = hash
    }
    if (!bytesEqual(builder.root(), head.root)) {
      throw new EhrlogError(
        'INVALID_PROOF',
        `entries of ${origin} up to ${head.treeSize} do not give the signed root`,
      )
    }
    for (const a of added) {
      feed.entries.push(a.bytes)
      feed.hashes.push(a.hash)
    }
    feed.heads.push(head)
    feed.builder = builder
    this.feeds.set(origin, feed)
    this.received.push({ origin, treeSize: head.treeSize, fromPeer })
    return { status: 'stored', treeSize: builder.size }
  }
}
