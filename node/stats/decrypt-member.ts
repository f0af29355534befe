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
      config: StatsConfig
      scan: FeedScan
      key: () => MemberKey | undefined
      forgeShare?: boolean
    },
  ) {}

  /** The request as this member sees it; throws the refusal. */
  view(period: string, origins: readonly string[]): RequestView {
    const { config, scan } = this.o
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
    const key = this.o.key()
    if (!key) throw refuse('no-key', 'the statistics key is not made yet', 'UNAVAILABLE')
    const sorted = sortOrigins([...new Set(origins)])
    const hospitals = sorted.map((origin) => {
      const seen = scan.counters.get(origin)?.get(period)
      if (!seen)
        throw refuse(
          'missing-counters',
          `no counters entry of ${origin} for ${period} in this replica`,
          'UNAVAILABLE',
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
    return {
      period,
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
    checkStatsRequest(this.o.config.policy, { period, origins }, published)
    const view = this.view(period, origins)
    const min = this.o.config.policy.minCellCount
    for (const [i, l] of cells.entries()) {
      if (!Number.isInteger(l) || l < 0 || l >= COUNTER_COUNT || (i > 0 && l <= cells[i - 1]!))
        throw refuse('bad-cells', 'cells must be ascending counter indexes 0..50')
      if (view.totals[l]! < min)
        throw refuse('cell-too-small', `cell ${l} totals under the minimum of ${min}: withheld`)
    }
    const key = this.o.key()!
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
