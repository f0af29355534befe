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
      underReport?: boolean
      logger: Logger
    },
  ) {}

  /** Appends a `counters` entry for each own period that has ended (one per call, oldest first). */
  async closeOwn(key: MemberKey, now = Date.now()): Promise<boolean> {
    const { self, scan } = this.o
    for (const [period, counts] of scan.owedPeriods(self, now - this.o.closeDelayMs)) {
      if (periodBoundsMs(period).end + this.o.closeDelayMs > now) return false
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
  checkAll(key: MemberKey): void {
    const publicKey = publicKeyOf(key.key)
    for (const [origin, byPeriod] of this.o.scan.counters) {
      for (const [period, seen] of byPeriod) {
        if (seen.verdict || seen.generation !== key.generation) continue
        const want = encryptCounters(publicKey, key.seed, origin, period, seen.counts)
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
}
