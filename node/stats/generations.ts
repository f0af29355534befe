import { bytesHex, dkgStart, hexBytes } from '../core/stats/index.ts'
import type { Membership } from '../core/trust/index.ts'
import type { DkgRunner, MemberKey } from './dkg-runner.ts'
import type { FeedScan } from './feed-scan.ts'
import type { StatsMessage } from './messages.ts'
import type { StatsConfig } from './stats-config.ts'

/*
 * The key generations of a node (docs/architecture.md, "Re-keying on a membership change"):
 * membership version v gives key generation v + 1, made by that version's members. A period
 * is counted under the newest generation that started before the period ended, a generation's
 * start being t0 of its rounds (the k-th earliest dealing's recorded time, dkg-rounds.ts): a
 * time every member reads from the same feeds. Older keys stay for older periods.
 */

export interface Generation {
  runner: DkgRunner
  config: StatsConfig
  /** Local time the generation was set up (its change applied, or the node started). */
  since: number
}

export class Generations {
  readonly #all = new Map<number, Generation>()

  constructor(private readonly scan: FeedScan) {}

  add(g: Generation): void {
    this.#all.set(g.runner.generation, g)
  }

  has(generation: number): boolean {
    return this.#all.has(generation)
  }

  /** Newest first. */
  list(): Generation[] {
    return [...this.#all.values()].sort((a, b) => b.runner.generation - a.runner.generation)
  }

  get newest(): Generation | undefined {
    return this.list()[0]
  }

  keyOf(generation: number): MemberKey | undefined {
    return this.#all.get(generation)?.runner.key
  }

  configOf(generation?: number): StatsConfig {
    const g = (generation !== undefined && this.#all.get(generation)) || this.newest!
    return g.config
  }

  membershipOf(generation: number): Membership | undefined {
    return this.#all.get(generation)?.runner.membership
  }

  /** t0 of a generation's rounds, read from the feeds; undefined while too few dealt. */
  startOf(generation: number): number | undefined {
    const g = this.#all.get(generation)
    if (!g) return undefined
    const seen = this.scan.dkgOf(generation)
    const names = g.runner.membership.members.map((m) => m.name)
    return dkgStart(g.runner.params, {
      dealings: seen.dealings.map((d) => ({
        member: names.indexOf(d.origin) + 1,
        recordedMs: d.recordedMs,
        dealing: {
          dealer: d.body.dealer,
          commitments: d.body.commitments.map(hexBytes),
          proof: hexBytes(d.body.proof),
        },
      })),
      complaints: [],
      answers: [],
    })
  }

  /**
   * The generation a period ending at `endMs` is counted under: the newest whose t0 is before
   * the end; 'pending' when a newer generation has not started yet but was set up before the
   * end (its t0 may still fall before it). The oldest generation takes everything earlier.
   */
  generationAt(endMs: number): number | 'pending' {
    const list = this.list()
    for (const [i, g] of list.entries()) {
      if (i === list.length - 1) return g.runner.generation
      const t0 = this.startOf(g.runner.generation)
      if (t0 === undefined) {
        if (endMs > g.since) return 'pending'
        continue
      }
      if (endMs > t0) return g.runner.generation
    }
    return 'pending'
  }

  /** The key for an own period ending at `endMs` (CounterWork.closeOwn). */
  keyAt(endMs: number): MemberKey | 'wait' | 'skip' {
    const generation = this.generationAt(endMs)
    if (generation === 'pending') return 'wait'
    const g = this.#all.get(generation)!
    if (!g.runner.isMember) return 'skip'
    return g.runner.key ?? 'wait'
  }

  /** Whether `origin` owes the counters of a period ending at `endMs` (a member then). */
  owes(origin: string, endMs: number): boolean {
    const generation = this.generationAt(endMs)
    if (generation === 'pending') return false
    return this.#all.get(generation)!.runner.membership.byName(origin) !== undefined
  }

  /**
   * The entries that show generation `g`'s key to outsiders (key-anchor.ts): every `dkg-key`
   * entry stating this member's key, and the dealing of each qualified dealer it names.
   */
  keyEntries(generation: number): Array<{ origin: string; seq: number }> {
    const key = this.keyOf(generation)
    if (!key) return []
    const seen = this.scan.dkgOf(generation)
    const mine = key.key.commitments.map((c) => bytesHex(c.toBytes())).join()
    const keys = seen.keys.filter((k) => k.body.commitments.join() === mine)
    const qualified = keys.find((k) => k.origin === key.members[key.index - 1])?.body.qualified
    if (!qualified) return []
    const same = keys.filter((k) => k.body.qualified.join() === qualified.join())
    const dealings = qualified.map((d) =>
      seen.dealings.find((x) => x.origin === key.members[d - 1] && x.body.dealer === d),
    )
    if (dealings.some((d) => d === undefined)) return []
    return [...same, ...(dealings as NonNullable<(typeof dealings)[number]>[])].map((e) => ({
      origin: e.origin,
      seq: e.seq,
    }))
  }

  async receive(m: Extract<StatsMessage, { type: 'dkg-share' }>): Promise<void> {
    await this.#all.get(m.generation)?.runner.receive(m)
  }
}
