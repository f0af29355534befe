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
  /** The key generation's round window W (stats.json `keyWindowSeconds`, default 10 s). */
  keyWindowMs: number
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
  /**
   * Tests only: overrides stats.json's key window W (deal, complain, answer). W is a network
   * parameter: members with different windows can decide the rounds differently.
   */
  dkgWindowMs?: number
  /** How long after a period closed a missing counters entry is reported (default 5 min). */
  missingGraceMs?: number
  faults?: {
    /** Key generation: box a wrong share to one member; leave complaints unanswered. */
    dkg?: { badShareTo?: string; noAnswer?: boolean }
    /** Never appends the counters of its first period with entries (skips a period it owes). */
    skipPeriod?: boolean
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
 * `groups` (the partition; default one group `network` of every member), `threshold`,
 * `keyWindowSeconds` (the key generation's round window, default 10).
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
  const window = (raw.keyWindowSeconds as number | undefined) ?? 10
  if (!Number.isInteger(window) || window < 1 || window > 3600)
    throw bad('keyWindowSeconds', 'must be 1..3600')
  return { period, policy, threshold, keyWindowMs: window * 1000 }
}
