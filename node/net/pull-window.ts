/**
 * The read-ahead of one sync pull: a reader sends PULLs and reads their responses while a
 * writer verifies and stores the batches of earlier ones, so reading (the responder's disk,
 * the wire) overlaps verifying and writing here. At most `size` PULLs are outstanding (sent,
 * and their batches not all stored), which bounds memory to `size` responses. One reader and
 * one writer; either side's failure ends both.
 */
export class PullWindow<T> {
  readonly #size: number
  readonly #ready: T[] = []
  #outstanding = 0
  #closed = false
  #failure: { error: unknown } | undefined
  readonly #waiting = new Set<() => void>()

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`window size ${size} < 1`)
    this.#size = size
  }

  /** Reader: waits until another PULL may be sent, and counts it as outstanding. */
  async reserve(): Promise<void> {
    this.#check()
    while (this.#outstanding >= this.#size) await this.#changed()
    this.#outstanding++
  }

  /** Reader: a response read in full, for the writer. */
  push(response: T): void {
    this.#check()
    this.#ready.push(response)
    this.#notify()
  }

  /** Reader: a reserved PULL that will bring nothing (the peer had no more). */
  release(): void {
    this.#outstanding--
    this.#notify()
  }

  /** Reader: no more responses will come. */
  close(): void {
    this.#closed = true
    this.#notify()
  }

  /** Either side: ends the other side's waits with `error`. */
  fail(error: unknown): void {
    this.#failure ??= { error }
    this.#notify()
  }

  /** Writer: the next response, in order; undefined once the reader closed and all were taken. */
  async take(): Promise<T | undefined> {
    this.#check()
    while (this.#ready.length === 0 && !this.#closed) await this.#changed()
    return this.#ready.shift()
  }

  /** Writer: a taken response is stored; its slot is free. */
  done(): void {
    this.release()
  }

  #check(): void {
    if (this.#failure) throw this.#failure.error
  }

  async #changed(): Promise<void> {
    this.#check()
    await new Promise<void>((resolve) => this.#waiting.add(resolve))
    this.#check()
  }

  #notify(): void {
    for (const wake of this.#waiting) wake()
    this.#waiting.clear()
  }
}
