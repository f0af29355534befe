import type { Membership } from '../core/trust/index.ts'
import type { ScrubView } from '../store/index.ts'
import type { CutJudge } from './cut-judge.ts'

/**
 * Batches of feeds damaged at open, or shorter than the checkpoint this node held when it
 * started, wait for the first scrub: sync would otherwise paper over the damage unseen. The
 * held feeds are judged once: a checkpoint gossiped later is ahead of a node that is catching
 * up, which is no damage, and holding that feed's batches for the first scrub would stall the
 * catch-up that scrub waits for.
 */
export class StartHold {
  readonly #store: Pick<ScrubView, 'size' | 'damageOf'>
  readonly #membership: () => Membership
  readonly #cuts: CutJudge
  readonly #released: Promise<void>
  #release: () => void = () => {}
  #origins: ReadonlySet<string> | undefined
  #done = false

  /** `membership`: the version in force (its members' feeds are judged). */
  constructor(
    store: Pick<ScrubView, 'size' | 'damageOf'>,
    membership: () => Membership,
    cuts: CutJudge,
  ) {
    this.#store = store
    this.#membership = membership
    this.#cuts = cuts
    this.#released = new Promise((resolve) => {
      this.#release = resolve
    })
  }

  /** The feeds held (judged at the first call). */
  origins(): ReadonlySet<string> {
    this.#origins ??= this.#judge()
    return this.#origins
  }

  /** What `origin`'s batches must wait for before they are stored; undefined: nothing. */
  waitFor(origin: string): Promise<void> | undefined {
    return !this.#done && this.origins().has(origin) ? this.#released : undefined
  }

  /** The first scrub named the damage (or the service stops): let every batch through. */
  release(): void {
    this.#done = true
    this.#release()
  }

  #judge(): Set<string> {
    const store = this.#store
    const cuts = this.#cuts.shorterThanClaimed() ? this.#cuts.judged()?.cuts : undefined
    const held = new Set<string>()
    for (const { name } of this.#membership().members) {
      const cut = cuts?.get(name)
      if (store.damageOf(name) !== undefined || (cut && store.size(name) < cut.treeSize))
        held.add(name)
    }
    return held
  }
}
