import { EhrlogError } from '../../core/errors.ts'

/**
 * Which feeds must not grow, and who says so (LogStore.holdAppends): one hold per (origin,
 * holder), each with its reason. An append to an origin is refused while any hold on it
 * stands; each holder lifts only its own, so two parts of the node (the own-feed fence, the
 * own key rotation) can hold one feed without lifting each other's hold.
 */
export class AppendHolds {
  /** origin → holder → reason, holders in the order they first held. */
  readonly #holds = new Map<string, Map<string, string>>()

  /** Holds (or re-words the hold of `holder`); ARGUMENT_INVALID for an empty holder or reason. */
  hold(origin: string, holder: string, reason: string): void {
    if (holder.length === 0 || reason.length === 0)
      throw new EhrlogError('ARGUMENT_INVALID', 'an append hold needs a holder and a reason', {
        details: { origin, holder },
      })
    const holds = this.#holds.get(origin) ?? new Map<string, string>()
    holds.set(holder, reason)
    this.#holds.set(origin, holds)
  }

  /** Lifts `holder`'s hold only; returns whether it held. */
  release(origin: string, holder: string): boolean {
    const holds = this.#holds.get(origin)
    const held = holds?.delete(holder) ?? false
    if (holds?.size === 0) this.#holds.delete(origin)
    return held
  }

  /** The holders of `origin`'s appends, in the order they held. */
  holdersOf(origin: string): string[] {
    return [...(this.#holds.get(origin)?.keys() ?? [])]
  }

  /** Every hold's reason, named by holder ("holder: reason; …"); undefined when none. */
  reasonOf(origin: string): string | undefined {
    const holds = this.#holds.get(origin)
    if (!holds) return undefined
    return [...holds].map(([holder, reason]) => `${holder}: ${reason}`).join('; ')
  }

  /** UNAVAILABLE, naming every hold, while `origin` is held. */
  assertFree(origin: string): void {
    const reason = this.reasonOf(origin)
    if (reason === undefined) return
    throw new EhrlogError('UNAVAILABLE', `${origin} is not appending: ${reason}`, {
      details: { origin, holders: this.holdersOf(origin) },
    })
  }
}
