import type { Logger } from '../logger.ts'

export interface FirstScrubOptions {
  /** Feeds whose batches wait for the first scrub (StartHold.origins). */
  held: ReadonlySet<string>
  /** What to wait for first when no feed is held (IntegrityServiceOptions.beforeFirstScrub). */
  beforeFirstScrub: (() => Promise<void>) | undefined
  scrubNow: () => Promise<unknown>
  signal: AbortSignal
  log: Logger
}

/**
 * Starts the first scrub after a start, in the background. When a feed is held for it, at
 * once: that feed's batches wait for it. Otherwise after `beforeFirstScrub` (the first sync
 * session), so a restarted node catches up first instead of reading its whole replica while
 * it catches up.
 */
export function startFirstScrub(opts: FirstScrubOptions): void {
  const wait = opts.held.size > 0 ? undefined : opts.beforeFirstScrub
  void (wait ? wait() : Promise.resolve())
    .then(() => (opts.signal.aborted ? undefined : opts.scrubNow()))
    .catch((err: unknown) =>
      opts.log.error({ err: (err as Error).message }, 'startup scrub failed'),
    )
}
