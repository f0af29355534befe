import type { EncodedEntry } from '../core/entry.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import type { Logger } from '../logger.ts'
import type { AppendItem, FeedBatch, LogStore, Receipt, Signer } from '../store/index.ts'

/** Where a durable batch of the own feed goes next: the network's gossip (NetService.publish). */
export interface BatchPublisher {
  publish(batch: FeedBatch): void
}

/** What an append waits for first (OwnTipFence): the own feed's tip learned from a quorum. */
export interface AppendFence {
  /** Resolves once open; throws UNAVAILABLE, saying why, after `timeoutMs`. */
  assertOpen(timeoutMs: number): Promise<void>
}

export interface OwnFeedOptions {
  store: Pick<LogStore, 'appendEntries'>
  signer: Signer
  gossip: BatchPublisher
  logger: Logger
  /** Without it, appends are never fenced (tests of one part). */
  fence?: AppendFence
  /** How long an append waits for the fence before UNAVAILABLE (default 10 s). */
  fenceWaitMs?: number
}

export interface AppendedBatch {
  entries: EncodedEntry[]
  head: SignedTreeHead
}

/**
 * The node's own feed, the one writer's door for ingest, alerts and accounts alike: appends
 * items as one batch (one atomic, fsync'd write with the signed tree head), then gossips it.
 * Gossip is best effort. Once the batch is on disk the append has happened: a publish refused
 * while the network is not running (before its start, during its stop) is logged and peers get
 * the batch by sync. Failing the append then would make a caller retry an append that is
 * already durable (the alert service would record the alert twice).
 */
export class OwnFeed {
  readonly #opts: OwnFeedOptions

  constructor(opts: OwnFeedOptions) {
    this.#opts = opts
  }

  /** This node's name: the origin of every entry appended here. */
  get origin(): string {
    return this.#opts.signer.origin
  }

  /**
   * Appends `items` (with idempotency `receipts`, if any, and deleting `removals` in the same
   * write); resolves once durable. Waits for the fence first: nothing is signed before the
   * node knows its feed's tip (UNAVAILABLE after fenceWaitMs). `signer`: another signer of
   * this origin for this one batch (a key rotation's marker, node/membership/own-rotation.ts).
   */
  append(
    items: readonly AppendItem[],
    receipts: readonly Receipt[] = [],
    now?: Date,
    removals: readonly Buffer[] = [],
    signer: Signer = this.#opts.signer,
  ): Promise<AppendedBatch> {
    // In a box emptied once the store has them (encoded at once): a suspended async function
    // keeps its arguments, here until the batch is on disk (docs/performance.md, session 10).
    return this.#append({ items }, receipts, now, removals, signer)
  }

  async #append(
    box: { items: readonly AppendItem[] },
    receipts: readonly Receipt[],
    now: Date | undefined,
    removals: readonly Buffer[],
    signer: Signer,
  ): Promise<AppendedBatch> {
    await this.#opts.fence?.assertOpen(this.#opts.fenceWaitMs ?? 10_000)
    const appending = this.#opts.store.appendEntries(
      signer,
      box.items,
      now ?? new Date(),
      receipts,
      removals,
    )
    box.items = []
    const { entries, head } = await appending
    try {
      this.#opts.gossip.publish({ origin: head.origin, entries: entries.map((e) => e.bytes), head })
    } catch (err) {
      this.#opts.logger.debug(
        { treeSize: head.treeSize, err: (err as Error).message },
        'own batch not gossiped; peers pull it by sync',
      )
    }
    return { entries, head }
  }
}
