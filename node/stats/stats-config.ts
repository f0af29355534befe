import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import {
  checkStatsPolicy,
  defaultThreshold,
  isPeriodUnit,
  type PeriodUnit,
  type StatsPolicy,
} from '../core/stats/index.ts'

/** The node folder's optional statistics settings (docs/architecture.md, "Private network statistics"). */
export const STATS_FILE = 'stats.json'
/** The node folder's statistics state: sealed key share, published totals, bundles. */
export const STATS_DIR = 'stats'

export interface StatsConfig {
  period: PeriodUnit
  policy: StatsPolicy
  /** Shares needed to decrypt (k of n); a majority by default. */
  threshold: number
}

/**
 * Timings and test faults, from NodeOptions. The faults exist so the end-to-end tests can show
 * that the other members catch them; they are never set by `ehrlog node start`.
 */
export interface StatsNodeOptions {
  /** How often the part looks for work: DKG messages to resend, periods to close, feeds to check (default 5 s). */
  tickMs?: number
  /** How long after a period's end its counters are counted (default 2 s). */
  closeDelayMs?: number
  /** How long a decryption request waits for shares (default 20 s). */
  requestTimeoutMs?: number
  /**
   * Bundles up to this many bytes travel inside a `bundle` message, larger ones are announced
   * and fetched (default and most: messages.ts MAX_INLINE_BUNDLE_BYTES; tests lower it).
   */
  maxInlineBundleBytes?: number
  faults?: {
    /** Publishes every period's counters with one count less in the first non-zero cell. */
    underReport?: boolean
    /** Answers decryption requests with a share whose first point is changed. */
    forgeShare?: boolean
  }
}

/**
 * stats.json (the same in every member's folder; without it the statistics are off and the
 * node writes no `stats` entry): `period` (month, day, hour,
 * minute or second; default day), `minGroupSize` (default 2), `minCellCount` (default 5),
 * `groups` (the partition; default one group `network` of every member), `threshold`.
 */
export async function readStatsConfig(
  dir: string,
  members: readonly string[],
): Promise<StatsConfig | undefined> {
  let raw: Record<string, unknown>
  const path = join(dir, STATS_FILE)
  try {
    raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
  } catch (err) {
    // No stats.json: the network has not turned the statistics on; the part stays idle.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new EhrlogError('CONFIG_INVALID', `${path}: ${(err as Error).message}`, {
      details: { field: STATS_FILE },
    })
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new EhrlogError('CONFIG_INVALID', `${path}: not a JSON object`, {
      details: { field: STATS_FILE },
    })
  const bad = (field: string, message: string) =>
    new EhrlogError('CONFIG_INVALID', `${path}: ${field} ${message}`, {
      details: { field: `${STATS_FILE}.${field}` },
    })
  const period = raw.period ?? 'day'
  if (typeof period !== 'string' || !isPeriodUnit(period))
    throw bad('period', 'must be month, day, hour, minute or second')
  const groups =
    raw.groups === undefined
      ? [{ name: 'network', origins: [...members] }]
      : (raw.groups as StatsPolicy['groups'])
  if (!Array.isArray(groups)) throw bad('groups', 'must be a list of {name, origins}')
  const policy: StatsPolicy = {
    members: [...members],
    groups,
    minGroupSize: (raw.minGroupSize as number | undefined) ?? 2,
    minCellCount: (raw.minCellCount as number | undefined) ?? 5,
  }
  try {
    checkStatsPolicy(policy)
  } catch (err) {
    throw bad('groups', (err as Error).message)
  }
  const threshold = (raw.threshold as number | undefined) ?? defaultThreshold(members.length)
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > members.length)
    throw bad('threshold', `must be 1..${members.length}`)
  return { period, policy, threshold }
}
