import { EhrlogError } from '../errors.ts'
import { checkPeriod } from './counters.ts'

/*
 * Which totals may be published (docs/architecture.md, "Private network statistics"). The
 * danger is the subtraction attack: the totals of two overlapping sets of hospitals, A + {h}
 * and A, subtract to h's own counts. So each period has ONE fixed partition of the members
 * into disjoint groups of at least `minGroupSize` hospitals (the whole network is the partition
 * with one group), decided before the period's counts exist; only a whole group of that
 * partition may be totalled, and no cell under `minCellCount` is published. Disjoint groups of
 * one partition have no differences to take, and periods of the network's one unit (period.ts) do not overlap.
 */

export interface StatsGroup {
  name: string
  origins: readonly string[]
}

export interface StatsPolicy {
  /** Every member of the network in the period. */
  members: readonly string[]
  /** The period's one partition; `[{name: 'network', origins: members}]` for the whole network. */
  groups: readonly StatsGroup[]
  /** m: the fewest hospitals a total may cover (at least 2). */
  minGroupSize: number
  /** The smallest total a cell may publish; smaller ones are withheld. */
  minCellCount: number
}

export interface StatsRequest {
  period: string
  origins: readonly string[]
}

export type PolicyRefusal =
  | 'policy-invalid'
  | 'single-hospital'
  | 'unknown-hospital'
  | 'not-a-group'
  | 'group-too-small'
  | 'overlapping-groups'

function refuse(
  reason: PolicyRefusal,
  message: string,
  details: Record<string, unknown> = {},
): EhrlogError {
  return new EhrlogError('FORBIDDEN', message, { details: { reason, ...details } })
}

/** The policy itself: a partition of the members into disjoint groups of at least m. */
export function checkStatsPolicy(policy: StatsPolicy): void {
  if (!Number.isInteger(policy.minGroupSize) || policy.minGroupSize < 2) {
    throw refuse(
      'policy-invalid',
      `the smallest group must be at least 2 hospitals, got ${policy.minGroupSize}`,
    )
  }
  if (!Number.isInteger(policy.minCellCount) || policy.minCellCount < 1) {
    throw refuse(
      'policy-invalid',
      `the smallest cell must be at least 1, got ${policy.minCellCount}`,
    )
  }
  const members = new Set(policy.members)
  const placed = new Map<string, string>()
  for (const group of policy.groups) {
    if (group.origins.length < policy.minGroupSize) {
      throw refuse(
        'group-too-small',
        `group ${group.name} has ${group.origins.length} hospitals, want at least ${policy.minGroupSize}`,
        { group: group.name },
      )
    }
    for (const origin of group.origins) {
      if (!members.has(origin)) {
        throw refuse('unknown-hospital', `group ${group.name} names ${origin}, not a member`, {
          origin,
        })
      }
      const other = placed.get(origin)
      if (other !== undefined) {
        throw refuse(
          'overlapping-groups',
          `${origin} is in both group ${other} and group ${group.name}`,
          { origin },
        )
      }
      placed.set(origin, group.name)
    }
  }
  if (placed.size !== members.size) {
    const missing = [...members].filter((m) => !placed.has(m))
    throw refuse(
      'policy-invalid',
      `the groups leave out ${missing.join(', ')}: they must partition the members`,
    )
  }
}

/**
 * Whether a total over `request.origins` may be published, given the totals already
 * published for the same period: returns the group's name, or throws FORBIDDEN with
 * `details.reason` one of PolicyRefusal.
 */
export function checkStatsRequest(
  policy: StatsPolicy,
  request: StatsRequest,
  published: readonly StatsRequest[] = [],
): string {
  checkStatsPolicy(policy)
  checkPeriod(request.period)
  const asked = new Set(request.origins)
  if (asked.size === 1) {
    throw refuse(
      'single-hospital',
      `a total over one hospital (${request.origins[0]}) is never published`,
    )
  }
  for (const origin of asked) {
    if (!policy.members.includes(origin)) {
      throw refuse('unknown-hospital', `${origin} is not a member`, { origin })
    }
  }
  if (asked.size < policy.minGroupSize) {
    throw refuse('group-too-small', `${asked.size} hospitals, want at least ${policy.minGroupSize}`)
  }
  for (const earlier of published) {
    if (earlier.period !== request.period) continue
    const overlap = earlier.origins.filter((o) => asked.has(o))
    const same = overlap.length === asked.size && earlier.origins.length === asked.size
    if (overlap.length > 0 && !same) {
      throw refuse(
        'overlapping-groups',
        `the hospitals overlap a total already published for ${request.period} (${overlap.join(', ')}); subtracting the two would isolate hospitals`,
        { overlap },
      )
    }
  }
  const group = policy.groups.find(
    (g) => g.origins.length === asked.size && g.origins.every((o) => asked.has(o)),
  )
  if (!group) {
    throw refuse(
      'not-a-group',
      `the hospitals are not one group of the period's partition (${policy.groups.map((g) => g.name).join(', ')})`,
    )
  }
  return group.name
}

/** The totals with every cell under `minCellCount` withheld (undefined). */
export function withholdSmallCells(
  totals: readonly number[],
  minCellCount: number,
): (number | undefined)[] {
  return totals.map((t) => (t < minCellCount ? undefined : t))
}
