/**
 * Keeps a feed's writers apart: batches from the network (accepts) share a feed's gate, a
 * repair holds it alone. A repair deletes records no head covers and reloads the feed's
 * state, which must not interleave with a batch being stored at the same seqs. New accepts
 * wait while a repair waits for the running ones, so a repair is never starved.
 */
export class OriginGate {
  readonly #running = new Map<string, number>()
  readonly #drained = new Map<string, Array<() => void>>()
  readonly #exclusive = new Map<string, Promise<void>>()

  /** Runs `fn` alongside other shared holders of `origin`, after any repair of it. */
  async shared<T>(origin: string, fn: () => Promise<T>): Promise<T> {
    for (let held = this.#exclusive.get(origin); held; held = this.#exclusive.get(origin))
      await held
    this.#running.set(origin, (this.#running.get(origin) ?? 0) + 1)
    try {
      return await fn()
    } finally {
      const left = (this.#running.get(origin) ?? 1) - 1
      if (left > 0) this.#running.set(origin, left)
      else {
        this.#running.delete(origin)
        for (const wake of this.#drained.get(origin) ?? []) wake()
        this.#drained.delete(origin)
      }
    }
  }

  /** Runs `fn` alone on `origin`: after the shared holders running now, before any new one. */
  async exclusive<T>(origin: string, fn: () => Promise<T>): Promise<T> {
    for (let held = this.#exclusive.get(origin); held; held = this.#exclusive.get(origin))
      await held
    let release = () => {}
    this.#exclusive.set(
      origin,
      new Promise<void>((resolve) => {
        release = resolve
      }),
    )
    try {
      if (this.#running.has(origin)) {
        await new Promise<void>((resolve) => {
          const waiting = this.#drained.get(origin) ?? []
          waiting.push(resolve)
          this.#drained.set(origin, waiting)
        })
      }
      return await fn()
    } finally {
      this.#exclusive.delete(origin)
      release()
    }
  }
}
