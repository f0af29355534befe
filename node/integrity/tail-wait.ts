import type { KnownHead, ScrubView } from '../store/index.ts'

export interface TailWaitOptions {
  store: Pick<ScrubView, 'size'>
  /** Runs an anti-entropy round now (NetService.syncNow). */
  syncNow: () => Promise<void>
  /** How long to wait (IntegrityServiceOptions.tailWaitMs, default 15 s). */
  tailWaitMs: number | undefined
  signal: AbortSignal
}

/**
 * Pulls by sync until `origin` reaches the cut's size, or `tailWaitMs` passes: a tail cut
 * below the checkpoint comes back from peers by plain sync once the feed's state is right.
 */
export async function awaitTail(
  opts: TailWaitOptions,
  origin: string,
  cut: KnownHead,
): Promise<void> {
  const deadline = Date.now() + (opts.tailWaitMs ?? 15_000)
  let nextSync = 0
  while (opts.store.size(origin) < cut.treeSize && Date.now() < deadline) {
    if (opts.signal.aborted) return
    if (Date.now() >= nextSync) {
      void opts.syncNow().catch(() => {})
      nextSync = Date.now() + 2000
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
