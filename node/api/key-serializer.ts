/**
 * Runs tasks that share a key one after another; tasks with different keys run freely.
 * Concurrent retries of one idempotent request are common (a client times out and tries
 * again while the first is still being written); run in turn, the second finds the
 * receipt of the first instead of racing it to the store.
 */
export class KeySerializer {
  /** key → settles when the last task queued under it has; removed when idle. */
  readonly #tails = new Map<string, Promise<void>>()

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const result = previous.then(task)
    const tail = result.then(
      () => {},
      () => {},
    )
    this.#tails.set(key, tail)
    try {
      return await result
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}
