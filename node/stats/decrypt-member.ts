import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import {
  type Ciphertext,
  COUNTER_COUNT,
  checkStatsRequest,
  countersCiphertexts,
  type DecryptionShare,
  makeDecryptionShare,
  periodUnitOf,
  type StatsRequest,
  statsContext,
  sumVectors,
} from '../core/stats/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import type { MemberKey } from './dkg-runner.ts'
import type { FeedScan } from './feed-scan.ts'
import type { StatsConfig } from './stats-config.ts'

/** What a decryption request is about, as one member sees it from its own replica. */
export interface RequestView {
  period: string
  /** The key generation every hospital's counters entry for the period names. */
  generation: number
  /** Sorted by UTF-8 bytes (as the bundle sorts them). */
  origins: string[]
  hospitals: Array<{ origin: string; seq: number; ciphertexts: Ciphertext[] }>
  sum: Ciphertext[]
  /** Plaintext totals from this member's replica (members see every feed). */
  totals: number[]
}

function refuse(reason: string, message: string, code: 'FORBIDDEN' | 'UNAVAILABLE' = 'FORBIDDEN') {
  return new EhrlogError(code, message, { details: { reason } })
}

export function sortOrigins(origins: readonly string[]): string[] {
  return [...origins].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

/**
 * A member's side of threshold decryption (docs/protocol.md, "Statistics"): checks a request
 * against the policy and its own replica, and makes its decryption share. Refusals are
 * EhrlogErrors whose `details.reason` names the rule (policy.ts reasons, and `wrong-unit`,
 * `no-key`, `missing-counters`, `counters-diverged`, `cell-too-small`). Nothing is written on
 * refusal; a share made is recorded in stats/published.json first (the overlap rule).
 */
export class DecryptMember {
  #published: StatsRequest[] | undefined

  constructor(
    private readonly o: {
      dir: string
      /** The settings of a key generation's membership (its policy partition), or the newest. */
      configFor: (generation?: number) => StatsConfig
      scan: FeedScan
      keyFor: (generation: number) => MemberKey | undefined
      forgeShare?: boolean
    },
  ) {}

  /** The request as this member sees it; throws the refusal. */
  view(period: string, origins: readonly string[]): RequestView {
    const { scan } = this.o
    const config = this.o.configFor()
    const unit = periodUnitOf(period)
    if (!unit)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `"${period.slice(0, 40)}" is not a period like 2026-11-03`,
        {
          details: { reason: 'bad-period', field: 'period' },
        },
      )
    if (unit !== config.period)
      throw refuse('wrong-unit', `this network counts by ${config.period}, ${period} is a ${unit}`)
    const sorted = sortOrigins([...new Set(origins)])
    const generation = this.generationOf(period, sorted)
    const hospitals = sorted.map((origin) => {
      const seen = scan.counters.get(origin)?.get(period)
      if (!seen)
        throw refuse(
          'missing-counters',
          `no counters entry of ${origin} for ${period} in this replica`,
          'UNAVAILABLE',
        )
      if (seen.generation !== generation)
        throw refuse(
          'mixed-generations',
          `the counters entries for ${period} are under different statistics keys (generations ${generation} and ${seen.generation}): they do not add up`,
        )
      if (seen.verdict !== 'ok')
        throw refuse(
          'counters-diverged',
          seen.verdict
            ? `${origin}'s counters for ${period} are not what its feed gives`
            : `${origin}'s counters for ${period} are not checked yet`,
          seen.verdict ? 'FORBIDDEN' : 'UNAVAILABLE',
        )
      return {
        origin,
        seq: seen.seq,
        ciphertexts: countersCiphertexts(seen.ciphertexts)!,
        counts: seen.counts,
      }
    })
    const sum = sumVectors(
      hospitals.map((h) => h.ciphertexts),
      COUNTER_COUNT,
    )
    const totals = new Array<number>(COUNTER_COUNT).fill(0)
    for (const h of hospitals) {
      h.counts.forEach((c, l) => {
        totals[l]! += c
      })
    }
    if (!this.o.keyFor(generation))
      throw refuse(
        'no-key',
        `this member holds no statistics key of generation ${generation}`,
        'UNAVAILABLE',
      )
    return {
      period,
      generation,
      origins: sorted,
      hospitals: hospitals.map(({ origin, seq, ciphertexts }) => ({ origin, seq, ciphertexts })),
      sum,
      totals,
    }
  }

  /** The policy check, the cells check and the share; throws the refusal. */
  async share(
    period: string,
    origins: readonly string[],
    cells: readonly number[],
  ): Promise<DecryptionShare> {
    const published = await this.#load()
    const config = this.o.configFor(this.generationOf(period, origins))
    checkStatsRequest(config.policy, { period, origins }, published)
    const view = this.view(period, origins)
    const min = config.policy.minCellCount
    for (const [i, l] of cells.entries()) {
      if (!Number.isInteger(l) || l < 0 || l >= COUNTER_COUNT || (i > 0 && l <= cells[i - 1]!))
        throw refuse('bad-cells', 'cells must be ascending counter indexes 0..50')
      if (view.totals[l]! < min)
        throw refuse('cell-too-small', `cell ${l} totals under the minimum of ${min}: withheld`)
    }
    const key = this.o.keyFor(view.generation)!
    const context = statsContext(period, key.key, view.origins, view.sum, cells)
    const share = makeDecryptionShare(
      context,
      key.index,
      key.share,
      cells.map((l) => view.sum[l]!.c1),
    )
    if (!published.some((p) => p.period === period && p.origins.join() === view.origins.join())) {
      published.push({ period, origins: view.origins })
      await writeFileAtomic(join(this.o.dir, 'published.json'), `${JSON.stringify(published)}\n`, {
        mode: 0o644,
      })
    }
    if (this.o.forgeShare && share.shares.length > 0) {
      share.shares[0] = share.shares[0]!.double()
    }
    return share
  }

  /**
   * The generation a period's totals are under: the one the first listed hospital's counters
   * entry names (any hospital's when none are listed; view() refuses a mix); 0 (the newest
   * config) when there is none yet.
   */
  generationOf(period: string, origins?: readonly string[]): number {
    for (const origin of sortOrigins(origins ?? [...this.o.scan.counters.keys()])) {
      const seen = this.o.scan.counters.get(origin)?.get(period)
      if (seen) return seen.generation
    }
    return 0
  }

  async #load(): Promise<StatsRequest[]> {
    if (this.#published) return this.#published
    try {
      this.#published = JSON.parse(
        await readFile(join(this.o.dir, 'published.json'), 'utf8'),
      ) as StatsRequest[]
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      this.#published = []
    }
    return this.#published
  }
}
