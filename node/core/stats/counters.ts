import type { Entry } from '../entry.ts'
import { ACTIONS } from '../event.ts'
import { periodError, periodUnitOf } from './period.ts'

/*
 * The counter table (docs/format.md, "Private network statistics"): what one hospital counts
 * per period, in this fixed order, 52 cells. Changing the table is a new bundle version
 * (STATS_TAGS.bundle, group.ts) and a new COUNTER_TABLE_VERSION.
 *
 *   0..39   events by action (10, in ACTIONS order) × data category (4, in DATA_CATEGORIES order):
 *           cell 4·a + c
 *   40      emergency accesses
 *   41      refused queries
 *   42..50  incidents by kind (9, in INCIDENT_KINDS order)
 *   51      failed sign-ins
 *
 * Version 1 had 51 cells: the incident kinds without `rotated-out-key` (then failed sign-ins
 * at 50). Version 2 added that kind's cell.
 */

/** The version of this table: the bundle's tag (`ehrlog/stats-bundle/v2`) names it. */
export const COUNTER_TABLE_VERSION = 2

/**
 * The incident kinds of `alert` entries, in INCIDENT_KINDS order (core/alert-body.ts; a test
 * keeps the two equal). Copied so this module does not load the entry codec, which hashes with
 * node:crypto: node/core/stats runs in the browser as is.
 */
export const STATS_INCIDENT_KINDS = [
  'modified',
  'deleted',
  'diverged',
  'index-diverged',
  'equivocation',
  'invalid-checkpoint',
  'quorum-degraded',
  'quorum-recovered',
  'rotated-out-key',
] as const
const INCIDENT_KINDS = STATS_INCIDENT_KINDS

export const DATA_CATEGORIES = ['clinical', 'medication', 'demographic', 'other'] as const
export type DataCategory = (typeof DATA_CATEGORIES)[number]

export const COUNTER_NAMES: readonly string[] = [
  ...ACTIONS.flatMap((action) => DATA_CATEGORIES.map((category) => `events.${action}.${category}`)),
  'emergency-accesses',
  'refused-queries',
  ...INCIDENT_KINDS.map((kind) => `incidents.${kind}`),
  'failed-sign-ins',
]
export const COUNTER_COUNT = COUNTER_NAMES.length
const EMERGENCY = ACTIONS.length * DATA_CATEGORIES.length
const REFUSED = EMERGENCY + 1
const INCIDENTS = REFUSED + 1
const FAILED_SIGN_INS = INCIDENTS + INCIDENT_KINDS.length

/**
 * The data category of an event's `resource` (the EHR's table or FHIR type), by the first rule
 * that matches its lower-cased text: medication / prescription / pharmacy -> medication;
 * patient / demographic / user / address / contact -> demographic; anything clinical
 * (observation, result, lab, diagnos, condition, note, encounter, procedure, imaging, allerg)
 * -> clinical; everything else -> other.
 */
export function dataCategory(resource: string): DataCategory {
  const r = resource.toLowerCase()
  if (/medicat|prescri|pharmac/.test(r)) return 'medication'
  if (/patient|demograph|user|address|contact/.test(r)) return 'demographic'
  if (/observ|result|lab|diagnos|condition|note|encounter|procedure|imaging|allerg/.test(r)) {
    return 'clinical'
  }
  return 'other'
}

/** A month, day, hour, minute or second, UTC (period.ts). Periods of one unit never overlap. */
export function checkPeriod(period: string): void {
  if (!periodUnitOf(period)) throw periodError(period)
}

interface EventBody {
  action?: unknown
  resource?: unknown
  detail?: unknown
  outcome?: unknown
}

/**
 * The counter vector of one origin's entries recorded in `period` (by the entry's `recorded`
 * time): what the origin must encrypt, and what every other member recomputes from its copy of
 * the feed. Emergency access: an event whose `detail` is `emergency` or `break-glass`; a
 * refused query: action `query` with outcome `failure`; a failed sign-in: action `login` with
 * outcome `failure` (both also count in their action × category cell).
 */
export function countersOf(entries: readonly Entry[], period: string): number[] {
  checkPeriod(period)
  const counts = new Array<number>(COUNTER_COUNT).fill(0)
  for (const entry of entries) if (entry.recorded.startsWith(period)) addToCounters(counts, entry)
  return counts
}

/** Counts one entry into `counts` (whatever its period): what countersOf does per entry. */
export function addToCounters(counts: number[], entry: Pick<Entry, 'kind' | 'body'>): void {
  if (entry.kind === 'event') {
    const body = entry.body as EventBody
    const a = ACTIONS.indexOf(body.action as (typeof ACTIONS)[number])
    if (a < 0 || typeof body.resource !== 'string') return
    counts[a * DATA_CATEGORIES.length + DATA_CATEGORIES.indexOf(dataCategory(body.resource))]!++
    const detail = typeof body.detail === 'string' ? body.detail.toLowerCase() : ''
    if (detail === 'emergency' || detail === 'break-glass') counts[EMERGENCY]!++
    if (body.outcome === 'failure' && body.action === 'query') counts[REFUSED]!++
    if (body.outcome === 'failure' && body.action === 'login') counts[FAILED_SIGN_INS]!++
  } else if (entry.kind === 'alert') {
    const k = INCIDENT_KINDS.indexOf((entry.body as { kind?: unknown }).kind as never)
    if (k >= 0) counts[INCIDENTS + k]!++
  }
}
