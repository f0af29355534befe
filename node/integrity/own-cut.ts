import type { Logger } from '../logger.ts'
import type { KnownHead, LogStore, ScrubView } from '../store/index.ts'

/** The name of this hold among the own feed's append holds (LogStore.holdAppends). */
export const OWN_CUT_HOLDER = 'own-cut'

/**
 * This node's own feed, when it is shorter than the network cosigned (its tail was rolled
 * back): appends stay held until sync or repair brings it back to the cut, however long that
 * takes. Appending first would sign new entries at seqs the network already holds signed
 * (an equivocation).
 */
export class OwnCutHold {
  readonly #replica: Pick<ScrubView, 'size'>
  readonly #appends: Pick<LogStore, 'holdAppends' | 'releaseAppends'>
  readonly #self: string
  readonly #log: Logger
  /** The cosigned size of the own feed while appends are held for it. */
  #cut: number | undefined

  constructor(
    replica: Pick<ScrubView, 'size'>,
    appends: Pick<LogStore, 'holdAppends' | 'releaseAppends'>,
    self: string,
    log: Logger,
  ) {
    this.#replica = replica
    this.#appends = appends
    this.#self = self
    this.#log = log
  }

  /**
   * Holds appends if the own feed is shorter than `cut`, then waits (`awaitTail`) for sync to
   * bring it back, and lifts the hold if it did.
   */
  async holdBelow(cut: KnownHead, awaitTail: () => Promise<void>): Promise<void> {
    const size = this.#replica.size(this.#self)
    if (size >= cut.treeSize) return
    this.#log.error(
      { have: size, cosigned: cut.treeSize },
      'own feed is shorter than the cosigned checkpoint: pulling it back before appending',
    )
    this.#appends.holdAppends(
      this.#self,
      OWN_CUT_HOLDER,
      `its feed has ${size} entries but the network cosigned ${cut.treeSize}; waiting for peers to restore them (retry later)`,
    )
    this.#cut = cut.treeSize
    await awaitTail()
    this.releaseIfWhole()
  }

  /** Lifts the hold once sync or repair brought the own feed back to the cut. */
  releaseIfWhole(): void {
    if (this.#cut === undefined) return
    const size = this.#replica.size(this.#self)
    if (size < this.#cut) return
    this.#appends.releaseAppends(this.#self, OWN_CUT_HOLDER)
    this.#cut = undefined
    this.#log.info({ size }, 'own feed restored: appending again')
  }
}
