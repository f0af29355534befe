import type { Logger } from 'pino'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import type { Membership } from '../core/trust/index.ts'
import { NetMembers } from './net-members.ts'
import type { AcceptResult, FeedBatch, ReplicaStore } from './replica-store.ts'

export type AcceptOutcome = AcceptResult | { status: 'rejected'; error: EhrlogError }

export type AcceptedListener = (batch: FeedBatch, fromPeer: string) => void

/**
 * The one door from the network into the store, shared by gossip and sync. Batches of one
 * origin go to the store one at a time in arrival order (two concurrent batches of one feed
 * would otherwise race and see spurious gaps); different origins proceed in parallel. The
 * next batch of an origin is handed over once the store has taken the previous one, not once
 * that is on disk: the store verifies and encodes batches in call order (ReplicaStore), so
 * verifying one overlaps writing the one before. Every rejection is logged naming the
 * sending peer; nothing here throws.
 */
export class Acceptor {
  /** Per origin: settles once the last batch handed over was taken by the store. */
  private readonly tails = new Map<string, Promise<unknown>>()
  /** Accepts not yet finished (for idle()). */
  private readonly running = new Set<Promise<unknown>>()
  private readonly listeners = new Set<AcceptedListener>()
  private readonly membership: NetMembers

  constructor(
    private readonly store: ReplicaStore,
    membership: Membership | NetMembers,
    private readonly log: Logger,
  ) {
    this.membership = NetMembers.of(membership)
  }

  onAccepted(listener: AcceptedListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  accept(batch: FeedBatch, fromPeer: string): Promise<AcceptOutcome> {
    const prior = this.tails.get(batch.origin) ?? Promise.resolve()
    let markTaken = () => {}
    const taken = new Promise<void>((resolve) => {
      markTaken = resolve
    })
    const run = prior.then(() => this.acceptNow(batch, fromPeer, markTaken))
    void run.finally(markTaken) // also when it ended before reaching the store
    this.tails.set(batch.origin, taken)
    void taken.then(() => {
      if (this.tails.get(batch.origin) === taken) this.tails.delete(batch.origin)
    })
    this.running.add(run)
    void run.finally(() => this.running.delete(run))
    return run
  }

  /** Resolves once every accept started so far has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }

  private async acceptNow(
    batch: FeedBatch,
    fromPeer: string,
    taken: () => void,
  ): Promise<AcceptOutcome> {
    const context = {
      peer: fromPeer,
      peerName: this.membership.byPeerId(fromPeer)?.name,
      origin: batch.origin,
      treeSize: batch.head.treeSize,
      entries: batch.entries.length,
    }
    try {
      // Only members' feeds are replicated (and those of former members, which the store keeps
      // frozen): the store could not check any other origin's key.
      if (!this.membership.isOrigin(batch.origin)) {
        throw new EhrlogError(
          'ORIGIN_UNKNOWN',
          `origin ${batch.origin} is not a member of this network`,
        )
      }
      const pending = this.store.acceptBatch(batch, fromPeer)
      taken()
      const result = await pending
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
