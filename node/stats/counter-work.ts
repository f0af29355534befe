import {
  COUNTER_NAMES,
  countersCiphertexts,
  countersHex,
  encryptCounters,
  periodBoundsMs,
  publicKeyOf,
} from '../core/stats/index.ts'
import type { Logger } from '../logger.ts'
import type { MemberKey } from './dkg-runner.ts'
import type { FeedScan } from './feed-scan.ts'

/**
 * The periods' counters (docs/architecture.md, "Private network statistics"): closing this
 * node's own periods (count, encrypt with the derived nonces, append a `counters` entry) and
 * checking every other member's `counters` entries against what this node counted in its own
 * replica of that feed, byte for byte.
 */
export class CounterWork {
  constructor(
    private readonly o: {
      self: string
      scan: FeedScan
      closeDelayMs: number
      append: (body: unknown) => Promise<void>
      /** An origin's counters entry differs from what its feed gives: cells that differ. */
      onDiverged: (origin: string, period: string, seq: number, cells: number[]) => void
      /** An origin owes a period's counters entry and none came within the grace delay. */
      onMissing: (origin: string, period: string) => void
      /** How long after a period's end (plus the close delay) a missing entry is reported. */
      missingGraceMs: number
      underReport?: boolean
      skipPeriod?: boolean
      logger: Logger
    },
  ) {}

  /**
   * Appends a `counters` entry for an own period that has ended (one per call, oldest first),
   * under the key `keyAt` gives for the period's end: 'wait' while that key is being made,
   * 'skip' when this node is not a member of that generation (it owes nothing).
   */
  async closeOwn(
    keyAt: (endMs: number) => MemberKey | 'wait' | 'skip',
    now = Date.now(),
  ): Promise<boolean> {
    const { self, scan } = this.o
    for (const [period, counts] of scan.owedPeriods(self, now - this.o.closeDelayMs)) {
      const { end } = periodBoundsMs(period)
      if (end + this.o.closeDelayMs > now) return false
      const key = keyAt(end)
      if (key === 'wait') return false
      if (key === 'skip' || this.#skipped.has(period)) continue
      if (this.o.skipPeriod && this.#skipped.size === 0 && counts.some((c) => c > 0)) {
        this.#skipped.add(period) // test fault: this period's entry is never appended
        continue
      }
      const published = [...counts]
      if (this.o.underReport) {
        const l = published.findIndex((c) => c > 0)
        if (l >= 0) published[l]! -= 1
      }
      const ciphertexts = encryptCounters(publicKeyOf(key.key), key.seed, self, period, published)
      await this.o.append({
        type: 'counters',
        generation: key.generation,
        period,
        ciphertexts: countersHex(ciphertexts),
      })
      this.o.logger.info({ period }, 'period counters appended')
      return true
    }
    return false
  }

  /** Checks the `counters` entries not yet checked, of every origin (its own too). */
  checkAll(keyFor: (generation: number) => MemberKey | undefined): void {
    for (const [origin, byPeriod] of this.o.scan.counters) {
      for (const [period, seen] of byPeriod) {
        const key = seen.verdict ? undefined : keyFor(seen.generation)
        if (!key) continue
        const want = encryptCounters(publicKeyOf(key.key), key.seed, origin, period, seen.counts)
        const got = countersCiphertexts(seen.ciphertexts)
        const cells = want.flatMap((c, l) =>
          got && c.c1.equals(got[l]!.c1) && c.c2.equals(got[l]!.c2) ? [] : [l],
        )
        seen.verdict = cells.length === 0 ? 'ok' : { cells }
        if (cells.length > 0) {
          this.o.logger.error(
            { origin, period, seq: seen.seq, counters: cells.map((l) => COUNTER_NAMES[l]) },
            'a counters entry is not what its feed gives',
          )
          this.o.onDiverged(origin, period, seen.seq, cells)
        }
      }
    }
  }

  readonly #missing = new Set<string>()
  readonly #skipped = new Set<string>()

  /**
   * Reports each origin that recorded a `dkg-key` entry and owes a period that closed more than
   * the grace delay ago with no `counters` entry in this replica (`owes`: the origin is a member
   * of the generation the period falls in). Once per origin and period.
   */
  reportMissing(owes: (origin: string, endMs: number) => boolean, now = Date.now()): void {
    const { scan, self } = this.o
    const grace = this.o.closeDelayMs + this.o.missingGraceMs
    for (const origin of scan.keyRecorded.keys()) {
      if (origin === self) continue
      for (const [period] of scan.owedPeriods(origin, now - grace)) {
        const { end } = periodBoundsMs(period)
        const id = `${origin}/${period}`
        if (end + grace > now || this.#missing.has(id) || !owes(origin, end)) continue
        this.#missing.add(id)
        this.o.logger.error({ origin, period }, 'an origin skipped a period it owes')
        this.o.onMissing(origin, period)
      }
    }
  }
}
