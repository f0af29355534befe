import type { Logger } from '../logger.ts'
import type { KnownHead, LogStore } from '../store/index.ts'

/**
 * This node's own feed, when it is shorter than the network cosigned (its tail was rolled
 * back): appends stay held until sync or repair brings it back to the cut, however long that
 * takes. Appending first would sign new entries at seqs the network already holds signed
 * (an equivocation).
 */
export class OwnCutHold {
  readonly #store: Pick<LogStore, 'size' | 'holdAppends' | 'releaseAppends'>
  readonly #self: string
  readonly #log: Logger
  /** The cosigned size of the own feed while appends are held for it. */
  #cut: number | undefined

  constructor(
    store: Pick<LogStore, 'size' | 'holdAppends' | 'releaseAppends'>,
    self: string,
    log: Logger,
  ) {
    this.#store = store
    this.#self = self
    this.#log = log
  }

  /**
   * Holds appends if the own feed is shorter than `cut`, then waits (`awaitTail`) for sync to
   * bring it back, and lifts the hold if it did.
   */
  async holdBelow(cut: KnownHead, awaitTail: () => Promise<void>): Promise<void> {
    const store = this.#store
    const self = this.#self
    if (store.size(self) >= cut.treeSize) return
    this.#log.error(
      { have: store.size(self), cosigned: cut.treeSize },
      'own feed is shorter than the cosigned checkpoint: pulling it back before appending',
    )
    store.holdAppends(
      self,
      `its feed has ${store.size(self)} entries but the network cosigned ${cut.treeSize}; waiting for peers to restore them (retry later)`,
    )
    this.#cut = cut.treeSize
    await awaitTail()
    this.releaseIfWhole()
  }

  /** Lifts the hold once sync or repair brought the own feed back to the cut. */
  releaseIfWhole(): void {
    const store = this.#store
    if (this.#cut === undefined || store.size(this.#self) < this.#cut) return
    store.releaseAppends(this.#self)
    this.#cut = undefined
    this.#log.info({ size: store.size(this.#self) }, 'own feed restored: appending again')
  }
}
