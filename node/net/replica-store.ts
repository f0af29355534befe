import type { AcceptResult, FeedBatch } from '../store/index.ts'

export type { AcceptResult, FeedBatch }

/**
 * What the network layer needs from storage. node/store's LogStore provides readBatches and
 * acceptBatch with these semantics; tests use test/net/memory-replica-store.ts.
 */
export interface ReplicaStore {
  /** origin -> number of entries held (the size of the last signed head held). */
  sizes(): Promise<Map<string, number>>
  /**
   * Batches of `origin` starting at `fromSeq`, each ending at a signed head this store holds.
   * Whole batches only: stops once at least `maxEntries` entries are collected, so one batch
   * may exceed it. Empty when nothing at or after `fromSeq` is held.
   */
  readBatches(origin: string, fromSeq: number, maxEntries: number): Promise<FeedBatch[]>
  /**
   * Verifies (signature, seqs, chain links, root) then stores atomically. Throws EhrlogError
   * when the batch is invalid, and then stores nothing. `gap` when it starts after `have + 1`.
   * Batches of one origin may be passed before the previous one's promise settles (the
   * Acceptor does): the store takes them in call order, each seeing every batch passed
   * before it as held, and settles them in that order.
   */
  acceptBatch(batch: FeedBatch, fromPeer: string): Promise<AcceptResult>
  /**
   * Told of the sizes a member's sync state vector announced (unverified claims: for the
   * lag metric only, never for a decision).
   */
  peerSizes?(sizes: ReadonlyMap<string, number>): void
}

/**
 * Wraps each accept of a batch from the network (NetService.gateAccepts): it decides when
 * `store` runs, and sees its result or error. node/integrity's gate holds batches of a feed
 * under repair and turns a conflicting signed head into equivocation evidence.
 */
export type AcceptGate = (
  batch: FeedBatch,
  store: () => Promise<AcceptResult>,
) => Promise<AcceptResult>
