import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import type { Logger } from '../logger.ts'
import type { ScrubView } from '../store/index.ts'
import type { CheckpointTrust, TrustedCuts } from './checkpoint-trust.ts'

export interface CutJudgeOptions {
  self: string
  store: Pick<ScrubView, 'size'>
  trust: CheckpointTrust
  /** The newest cosigned checkpoint; verified (trust) before any of its cuts is used. */
  latestCheckpoint: () => CosignedCheckpoint | undefined
  /** The feeds this replica held up to their cut when it adopted that checkpoint. */
  latestHeld?: () => ReadonlySet<string> | undefined
  logger: Logger
}

/**
 * Which cuts of the latest cosigned checkpoint this replica is held to: a feed shorter than
 * its cut was truncated, unless the replica never held it that far (it is behind, catching up).
 */
export class CutJudge {
  readonly #opts: CutJudgeOptions

  constructor(opts: CutJudgeOptions) {
    this.#opts = opts
  }

  /** The cuts of the latest checkpoint once its cosignature verified; undefined (logged) if not. */
  trusted(): TrustedCuts | undefined {
    try {
      return this.#opts.trust.cutsOf(this.#opts.latestCheckpoint())
    } catch (err) {
      this.#opts.logger.error(
        { err: (err as Error).message },
        'the stored checkpoint does not verify: scrubbing without it',
      )
      return undefined
    }
  }

  /**
   * The cuts a scrub holds this replica to: those of feeds it held when it adopted the
   * checkpoint, and its own feed, which it wrote. Another origin's feed that was behind the
   * cut then (the checkpoint came before its entries) is behind, not truncated: its cut is
   * left out until the replica reaches it, and from then on its root is checked as usual.
   */
  judged(): TrustedCuts | undefined {
    const trusted = this.trusted()
    const held = this.#opts.latestHeld?.()
    if (!trusted || !held) return trusted
    const { self, store } = this.#opts
    const cuts = new Map(
      [...trusted.cuts].filter(
        ([origin, cut]) =>
          origin === self || held.has(origin) || store.size(origin) >= cut.treeSize,
      ),
    )
    return { ...trusted, cuts }
  }

  /**
   * Whether a feed (`origin`'s, or any) is shorter than the latest checkpoint claims, before
   * its cosignature is checked. Only such a feed can be held back by the checkpoint, so when
   * none is, a start leaves the check (~0.1 s of pairings on this thread) to the first scrub,
   * which makes it before it trusts any cut.
   */
  shorterThanClaimed(origin?: string): boolean {
    const feeds = this.#opts.latestCheckpoint()?.checkpoint.feeds ?? []
    const { store } = this.#opts
    return feeds.some(
      (f) => (origin === undefined || f.origin === origin) && store.size(f.origin) < f.treeSize,
    )
  }
}
