import type { Logger } from 'pino'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import type { Membership } from './membership.ts'
import type { AcceptResult, FeedBatch, ReplicaStore } from './replica-store.ts'

export type AcceptOutcome = AcceptResult | { status: 'rejected'; error: EhrlogError }

export type AcceptedListener = (batch: FeedBatch, fromPeer: string) => void

/**
 * The one door from the network into the store, shared by gossip and sync. Batches of one
 * origin are accepted one at a time in arrival order (two concurrent batches of one feed
 * would otherwise race and see spurious gaps); different origins proceed in parallel.
 * Every rejection is logged naming the sending peer; nothing here throws.
 */
export class Acceptor {
  private readonly tails = new Map<string, Promise<unknown>>()
  private readonly listeners = new Set<AcceptedListener>()

  constructor(
    private readonly store: ReplicaStore,
    private readonly membership: Membership,
    private readonly log: Logger,
  ) {}

  onAccepted(listener: AcceptedListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  accept(batch: FeedBatch, fromPeer: string): Promise<AcceptOutcome> {
    const prior = this.tails.get(batch.origin) ?? Promise.resolve()
    const run = prior.then(() => this.acceptNow(batch, fromPeer))
    this.tails.set(batch.origin, run)
    void run.finally(() => {
      if (this.tails.get(batch.origin) === run) this.tails.delete(batch.origin)
    })
    return run
  }

  /** Resolves once every accept started so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.allSettled([...this.tails.values()])
  }

  private async acceptNow(batch: FeedBatch, fromPeer: string): Promise<AcceptOutcome> {
    const context = {
      peer: fromPeer,
      peerName: this.membership.byPeerId(fromPeer)?.name,
      origin: batch.origin,
      treeSize: batch.head.treeSize,
      entries: batch.entries.length,
    }
    try {
      // Only members' feeds are replicated: the store could not check any other origin's key.
      if (!this.membership.byName(batch.origin)) {
        throw new EhrlogError(
          'ORIGIN_UNKNOWN',
          `origin ${batch.origin} is not a member of this network`,
        )
      }
      const result = await this.store.acceptBatch(batch, fromPeer)
      if (result.status === 'stored') {
        for (const listener of this.listeners) {
          try {
            listener(batch, fromPeer)
          } catch (err) {
            this.log.error({ err }, 'onAccepted listener threw')
          }
        }
      }
      return result
    } catch (err) {
      const error = isEhrlogError(err)
        ? err
        : new EhrlogError('INTERNAL', `store failed: ${(err as Error)?.message}`, { cause: err })
      const level = error.code === 'INTERNAL' ? 'error' : 'warn'
      this.log[level]({ ...context, code: error.code, reason: error.message }, 'rejected batch')
      return { status: 'rejected', error }
    }
  }
}
