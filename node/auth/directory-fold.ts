import type { UserRecord } from '../core/auth/user-record.ts'
import { verifyEntryBody } from '../core/body.ts'
import { decodeEntry, type Entry, isUserRecord } from '../core/entry.ts'
import type { Logger } from '../logger.ts'
import type { AppendItem, FeedBatch, LogStore } from '../store/index.ts'
import { UserDirectory } from './user-directory.ts'

/** Where this node writes its own user records: its own feed (ingest's OwnFeed). */
export interface UserRecordFeed {
  readonly origin: string
  append(items: readonly AppendItem[]): Promise<unknown>
}

/** The batches the network stores from peers (NetService.onAccepted). */
export interface AcceptedBatches {
  onAccepted(listener: (batch: FeedBatch, fromPeer: string) => void): () => unknown
}

export interface DirectoryFoldOptions {
  store: Pick<LogStore, 'userRecordRefs' | 'getEntry'>
  feed: UserRecordFeed
  accepted: AcceptedBatches
  logger: Logger
}

/**
 * Keeps one UserDirectory folded from the user records of every feed: at start from the
 * store's U postings (no pass over all entries), then from every batch the network stores and
 * every record this node appends (append(), AuthService's writer). Start it before the network:
 * then no batch is stored between the load and the subscription.
 */
export class DirectoryFold {
  readonly directory = new UserDirectory()
  readonly #opts: DirectoryFoldOptions
  #unsubscribe: (() => unknown) | undefined

  constructor(opts: DirectoryFoldOptions) {
    this.#opts = opts
  }

  async start(): Promise<void> {
    await this.#load()
    this.#unsubscribe ??= this.#opts.accepted.onAccepted((batch) => this.#applyBatch(batch))
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /** Appends this node's own user records and applies them once durable. */
  async append(records: UserRecord[]): Promise<void> {
    const { origin } = this.#opts.feed
    // A record peers would refuse must never enter the feed: it would stall its replication.
    for (const r of records) verifyEntryBody('user', r, origin)
    await this.#opts.feed.append(records.map((body) => ({ kind: 'user' as const, body })))
    for (const r of records) this.directory.apply(origin, r)
  }

  /**
   * A damaged record must not keep the node from starting: it is skipped and logged here,
   * and the integrity service names and repairs it.
   */
  async #load(): Promise<void> {
    const { store, logger } = this.#opts
    for (const ref of await store.userRecordRefs()) {
      let entry: Entry | undefined
      try {
        entry = (await store.getEntry(ref.origin, ref.seq))?.entry
      } catch (err) {
        logger.error({ ...ref, err: (err as Error).message }, 'unreadable user record skipped')
      }
      if (entry?.kind === 'user') this.directory.apply(ref.origin, entry.body)
    }
  }

  #applyBatch(batch: FeedBatch): void {
    for (const bytes of batch.entries) {
      // The store verified these bytes already: decode only user records (most are events).
      if (!isUserRecord(bytes)) continue
      const { entry } = decodeEntry(bytes)
      if (entry.kind === 'user') this.directory.apply(entry.origin, entry.body)
    }
  }
}
