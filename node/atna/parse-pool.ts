import { availableParallelism } from 'node:os'
import { OrderedWorker } from '../threads/ordered-worker.ts'
import { type ParsedFrame, packFrames, parseFrames } from './parse-frames.ts'

/**
 * Parse threads for syslog frames (RFC 5424 header, XML, event schema: ~75 µs of the ~150 µs
 * a message cost the event loop, docs/performance.md). One thread fewer than the cores, at
 * least one: the event loop keeps TLS, framing and the append.
 */
export function defaultParseThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1))
}

/**
 * Turns batches of frames into events on worker threads (parse-thread.ts). A batch goes to
 * the thread of its lane (a connection's lane stays fixed), and each thread answers in order,
 * so one connection's messages keep their order. The threads start with start() or on first
 * use. With
 * `threads` 0, or once a thread has failed, batches are parsed inline: a lost thread costs
 * speed, never a message.
 */
export class ParsePool {
  readonly #size: number
  readonly #workers: Array<OrderedWorker<ParsedFrame[]> | undefined> = []
  #closed = false
  /** Batches a thread answered (tests). */
  batchesOnThreads = 0

  constructor(threads: number) {
    this.#size = threads
  }

  /**
   * Starts the threads now (a listener's start) rather than on the first message: bundling
   * the thread's script and booting it take ~0.1-0.3 s that the first batch would wait.
   */
  start(): void {
    for (let i = 0; i < this.#size && !this.#closed; i++) this.#worker(i)
  }

  async parse(frames: readonly Uint8Array[], lane: number): Promise<ParsedFrame[]> {
    if (this.#size === 0 || this.#closed) return parseFrames(frames)
    const worker = this.#worker(lane % this.#size)
    const packed = packFrames(frames)
    try {
      const parsed = await worker.run(packed, [packed.bytes.buffer as ArrayBuffer])
      this.batchesOnThreads++
      return parsed
    } catch {
      // The thread failed (or the pool closed): its frames were transferred, but the caller's
      // own buffers are intact.
      return parseFrames(frames)
    }
  }

  #worker(i: number): OrderedWorker<ParsedFrame[]> {
    this.#workers[i] ??= new OrderedWorker(
      'node/atna/parse-thread.ts',
      undefined,
      'syslog parse thread',
    )
    return this.#workers[i]
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#workers.map((w) => w?.close('syslog parse pool closed')))
  }
}
