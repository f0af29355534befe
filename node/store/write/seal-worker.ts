import { OrderedWorker } from '../../threads/ordered-worker.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import { packRecords, transferables } from '../packed-records.ts'
import type { ChainedBatch, PlainSink } from './write-chain.ts'

/**
 * Accepted batches of at least this many entries are sealed on the worker: below it, a
 * round trip to the thread (~0.1 ms) costs about what sealing inline does, and gossip's small
 * batches are latency-bound.
 */
export const SEAL_OFF_THREAD_FROM = 256

/**
 * Own appends of at least this many entries are sealed on the worker too. An own batch is
 * the ingest queue's group commit: under load it holds hundreds of events, whose sealing
 * (~5 µs per record, ~2 records per entry) then stalls the thread that reads syslog and
 * API requests; a batch this small costs about the round trip inline, and a single API
 * append keeps its latency (docs/performance.md, "ATNA syslog ingest").
 */
export const SEAL_OWN_OFF_THREAD_FROM = 32

/** The value of a key-only record (PlainSink.putKeyOnly). */
const EMPTY = Buffer.alloc(0)

/** A sink that seals each record into `batch` in this thread as it is put. */
export function sealingSink(cipher: ValueCipher, batch: ChainedBatch): PlainSink {
  return {
    putPlain: (key, plaintext) => batch.put(key, cipher.seal(key, plaintext)),
    putKeyOnly: (key) => batch.put(key, EMPTY),
  }
}

/** What the seal thread answers for one job: the sealed values end to end. */
export interface SealedValues {
  values: Uint8Array
  /** values[i] is values.subarray(ends[i - 1] ?? 0, ends[i]). */
  ends: Uint32Array
}

/**
 * Seals the records of store batches, in this thread or on a worker thread. AES-GCM costs
 * ~5 µs of JavaScript thread per value here, most of it per call rather than per byte (a
 * cipher object per value: node:crypto cannot rekey a nonce). For the large batches a
 * catching-up replica accepts, that is a quarter of the thread's work, so those records are
 * collected as plaintext and sealed on a worker while the thread verifies the next batch
 * (docs/performance.md); the same for the own feed's group commits, while the thread reads
 * the next messages. The worker starts on first use, answers jobs in order, and holds
 * the value key (same process, same trust). If it fails, every job from then on is sealed
 * inline: a lost worker costs speed, never a write.
 */
export class Sealer {
  readonly #cipher: ValueCipher
  readonly #valueKey: Uint8Array
  #worker: OrderedWorker<SealedValues> | undefined
  #closed = false
  /** Jobs the worker answered (tests and metrics). */
  jobsOnWorker = 0

  constructor(cipher: ValueCipher, valueKey: Uint8Array) {
    this.#cipher = cipher
    this.#valueKey = valueKey
  }

  /** A sink that seals each record into `batch` as it is put. */
  inline(batch: ChainedBatch): PlainSink {
    return sealingSink(this.#cipher, batch)
  }

  /**
   * A sink that only collects records; `fill()` then seals them on the worker and puts them
   * into `batch`, in put order. Call fill() once, after the last put. Key-only records have
   * nothing to seal: they go into `batch` at once (keys are distinct, so order is moot).
   */
  deferred(batch: ChainedBatch): { sink: PlainSink; fill: () => Promise<void> } {
    const records: Array<[Buffer, Uint8Array]> = []
    return {
      sink: {
        putPlain: (key, plaintext) => records.push([key, plaintext]),
        putKeyOnly: (key) => batch.put(key, EMPTY),
      },
      fill: async () => {
        let sealed: SealedValues
        try {
          sealed = await this.#onWorker(records)
        } catch {
          const inline = this.inline(batch)
          for (const [key, plaintext] of records) inline.putPlain(key, plaintext)
          return
        }
        const { values, ends } = sealed
        const buffer = Buffer.from(values.buffer, values.byteOffset, values.byteLength)
        records.forEach(([key], i) => {
          batch.put(key, buffer.subarray(ends[i - 1] ?? 0, ends[i]))
        })
      },
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#worker?.close('sealer closed')
  }

  async #onWorker(
    records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
  ): Promise<SealedValues> {
    if (this.#closed) throw new Error('sealer closed')
    this.#worker ??= new OrderedWorker(
      'node/store/write/seal-thread.ts',
      { valueKey: this.#valueKey },
      'seal worker',
    )
    const raw = packRecords(records)
    const sealed = await this.#worker.run(raw, transferables(raw))
    this.jobsOnWorker++
    return sealed
  }
}
