import type { EntryReader } from './read/entry-reader.ts'
import {
  getIndexBetas,
  type PatientPosting,
  patientPostingBatches,
  patientPostings,
  patientRefsIn,
  putIndexBetas,
} from './read/index-postings.ts'
import { restorePatientPostings } from './repair/posting-repair.ts'
import type { StoreAccess } from './store-access.ts'
import type { EncodedBatch } from './write/feed-encoder.ts'
import type { EntryRef } from './write/indexes.ts'

/**
 * A batch of a feed now durably on disk: every new seq in order, with the patient of each
 * event entry (undefined for other kinds). Told for own appends and accepted batches;
 * `repaired` after a repair rewrote records of the feed (listeners re-read what they need).
 */
export interface CommittedBatch {
  origin: string
  entries: Array<{ seq: number; patientId: string | undefined }>
  repaired?: boolean
}

/** Seqs firstSeq..lastSeq with the patient of each event among them. */
export function committedBatch(
  origin: string,
  firstSeq: number,
  lastSeq: number,
  events: EncodedBatch['events'],
): CommittedBatch {
  const entries: CommittedBatch['entries'] = []
  let e = 0
  for (let seq = firstSeq; seq <= lastSeq; seq++) {
    while (e < events.length && events[e]!.seq < seq) e++
    const event = events[e]
    entries.push({ seq, patientId: event?.seq === seq ? event.event.patientId : undefined })
  }
  return { origin, entries }
}

/** Who LogStore.onCommitted tells; a listener's failure is its own: the batch is written. */
export class CommitListeners {
  readonly #listeners = new Set<(batch: CommittedBatch) => void>()

  get size(): number {
    return this.#listeners.size
  }

  add(listener: (batch: CommittedBatch) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  tell(batch: CommittedBatch): void {
    for (const listener of this.#listeners) {
      try {
        listener(batch)
      } catch {
        // The per-patient index finds its gaps itself.
      }
    }
  }
}

/**
 * What the per-patient index (node/index) reads and writes in the store, beside LogStore's
 * feeds: the patient postings it is built from, the VRF outputs it caches (V | blind), the
 * blind index that keys both, and the repair of postings the scrub found missing.
 * `store.patientIndex` of an open LogStore.
 */
export class PatientIndexStore {
  readonly #access: () => StoreAccess
  readonly #reader: Pick<EntryReader, 'entries'>
  readonly #originOfTag: (tagHex: string) => string | undefined
  readonly #blind: (patientId: string) => Buffer
  readonly #size: (origin: string) => number

  constructor(parts: {
    access: () => StoreAccess
    reader: Pick<EntryReader, 'entries'>
    originOfTag: (tagHex: string) => string | undefined
    blind: (patientId: string) => Buffer
    size: (origin: string) => number
  }) {
    this.#access = parts.access
    this.#reader = parts.reader
    this.#originOfTag = parts.originOfTag
    this.#blind = parts.blind
    this.#size = parts.size
  }

  /** The blind index of a patient id, as in the patient postings' keys. */
  blind(patientId: string): Buffer {
    return this.#blind(patientId)
  }

  /** Every patient posting in key order, from one snapshot (read/index-postings.ts). */
  postings(damaged?: { count: number }): AsyncGenerator<PatientPosting> {
    return patientPostings(this.#access(), this.#originOfTag, damaged)
  }

  /** The same in batches of up to 1,000 (one LevelDB read each): a rebuild's million postings. */
  postingBatches(damaged?: { count: number }): AsyncGenerator<PatientPosting[]> {
    return patientPostingBatches(this.#access(), this.#originOfTag, damaged)
  }

  /**
   * One patient's entries in one feed, in seq order, read lazily (read/index-postings.ts):
   * what a query page reads instead of every posting of the patient in every feed. From
   * `fromSeq` on, a later page does not read the postings of the pages before it (it may
   * yield a few seqs below `fromSeq`, from the posting that holds it).
   */
  async *refsIn(patientId: string, origin: string, fromSeq = 1): AsyncGenerator<EntryRef[]> {
    const feed = this.#access().feeds.get(origin)
    if (feed)
      yield* patientRefsIn(this.#access(), this.#blind(patientId), feed.tag, origin, fromSeq)
  }

  /** Cached VRF outputs, by blind index (undefined where none). */
  getBetas(blinds: readonly Uint8Array[]): Promise<(Buffer | undefined)[]> {
    return getIndexBetas(this.#access(), blinds)
  }

  /** Caches VRF outputs by blind index (sealed). */
  putBetas(betas: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): Promise<void> {
    return putIndexBetas(this.#access(), betas)
  }

  /**
   * Restores the patient postings of `origin` from its entries up to its size, where they are
   * short of them (repair/posting-repair.ts). Returns the seqs restored.
   */
  restorePostings(origin: string): Promise<number[]> {
    return restorePatientPostings(
      this.#access(),
      this.#reader,
      this.#originOfTag,
      this.#blind,
      origin,
      this.#size(origin),
    )
  }
}
