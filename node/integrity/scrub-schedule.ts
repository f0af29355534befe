import type { Logger } from '../logger.ts'

export interface ScrubScheduleOptions {
  scrubNow: () => Promise<unknown>
  /** Time between scheduled scrubs; 0: none (default 10 min). */
  scrubIntervalMs: number | undefined
  /** First wait before scrubbing again while an incident is open (default 5 s). */
  retryMs: number | undefined
  signal: AbortSignal
  log: Logger
}

/**
 * When scrubs run besides the first and scrubNow(): every `scrubIntervalMs`, and, while an
 * incident is unrepaired (peers may have been away), again after `retryMs`, doubling up to
 * the interval.
 */
export class ScrubSchedule {
  readonly #opts: ScrubScheduleOptions
  #timer: NodeJS.Timeout | undefined
  #retry: NodeJS.Timeout | undefined
  #retryDelayMs = 0

  constructor(opts: ScrubScheduleOptions) {
    this.#opts = opts
  }

  start(): void {
    const interval = this.#opts.scrubIntervalMs ?? 10 * 60_000
    if (interval <= 0) return
    this.#timer = setInterval(() => {
      void this.#opts
        .scrubNow()
        .catch((err: unknown) =>
          this.#opts.log.error({ err: (err as Error).message }, 'scheduled scrub failed'),
        )
    }, interval)
  }

  /** After a scrub that found damage: scrubs again soon while `openIncidents` > 0. */
  retryWhileOpen(openIncidents: number): void {
    clearTimeout(this.#retry)
    if (openIncidents === 0 || this.#opts.signal.aborted) {
      this.#retryDelayMs = 0
      return
    }
    const first = this.#opts.retryMs ?? 5000
    const cap = Math.max(first, this.#opts.scrubIntervalMs || 10 * 60_000)
    this.#retryDelayMs = Math.min(cap, this.#retryDelayMs ? this.#retryDelayMs * 2 : first)
    this.#retry = setTimeout(() => {
      void this.#opts.scrubNow().catch(() => {})
    }, this.#retryDelayMs)
  }

  stop(): void {
    clearInterval(this.#timer)
    clearTimeout(this.#retry)
  }
}
