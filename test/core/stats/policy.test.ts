import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../../node/core/errors.ts'
import {
  checkStatsPolicy,
  checkStatsRequest,
  type StatsPolicy,
  withholdSmallCells,
} from '../../../node/core/stats/policy.ts'

const members = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6']
const partition: StatsPolicy = {
  members,
  groups: [
    { name: 'north', origins: ['h1', 'h2', 'h3'] },
    { name: 'south', origins: ['h4', 'h5', 'h6'] },
  ],
  minGroupSize: 3,
  minCellCount: 5,
}
const network: StatsPolicy = { ...partition, groups: [{ name: 'network', origins: members }] }

function reasonOf(fn: () => unknown): unknown {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!isEhrlogError(err, 'FORBIDDEN')) throw err
    return err.details.reason
  }
}

describe('statistics policy: whole predefined groups only, no subtraction', () => {
  it('allows each whole group of the period, in any order of its members', () => {
    expect(checkStatsRequest(partition, { period: '2026-11', origins: ['h3', 'h1', 'h2'] })).toBe(
      'north',
    )
    expect(checkStatsRequest(network, { period: '2026-11', origins: members })).toBe('network')
  })

  it('refuses a single hospital', () => {
    expect(
      reasonOf(() => checkStatsRequest(partition, { period: '2026-11', origins: ['h4'] })),
    ).toBe('single-hospital')
  })

  it('refuses a set that is not a group, a set too small, and a stranger', () => {
    const ask = (origins: string[]) => () =>
      checkStatsRequest(partition, { period: '2026-11', origins })
    expect(reasonOf(ask(['h1', 'h2', 'h4']))).toBe('not-a-group')
    expect(reasonOf(ask(['h1', 'h2']))).toBe('group-too-small')
    expect(reasonOf(ask(['h1', 'h2', 'hX']))).toBe('unknown-hospital')
    // The whole network is not a group of a two-group partition: network − north = south is
    // harmless, but with withheld cells it would reveal them.
    expect(reasonOf(ask(members))).toBe('not-a-group')
  })

  it('refuses overlapping groups within a period: the subtraction attack', () => {
    // Someone published {h1..h5} for 2026-11 (e.g. under another policy); {h1..h4} would
    // isolate h5 by subtraction.
    const published = [{ period: '2026-11', origins: ['h1', 'h2', 'h3', 'h4', 'h5'] }]
    const attack: StatsPolicy = {
      ...partition,
      groups: [
        { name: 'big', origins: ['h1', 'h2', 'h3', 'h4'] },
        { name: 'rest', origins: ['h5', 'h6'] },
      ],
      minGroupSize: 2,
    }
    expect(
      reasonOf(() =>
        checkStatsRequest(
          attack,
          { period: '2026-11', origins: ['h1', 'h2', 'h3', 'h4'] },
          published,
        ),
      ),
    ).toBe('overlapping-groups')
    // The same set again, or another period, is fine.
    expect(
      checkStatsRequest(partition, { period: '2026-11', origins: ['h1', 'h2', 'h3'] }, [
        { period: '2026-11', origins: ['h3', 'h2', 'h1'] },
      ]),
    ).toBe('north')
    expect(
      checkStatsRequest(
        attack,
        { period: '2026-12', origins: ['h1', 'h2', 'h3', 'h4'] },
        published,
      ),
    ).toBe('big')
  })

  it('refuses a policy whose groups overlap, leave a member out, or are too small', () => {
    expect(
      reasonOf(() =>
        checkStatsPolicy({
          ...partition,
          groups: [
            { name: 'a', origins: ['h1', 'h2', 'h3', 'h4'] },
            { name: 'b', origins: ['h4', 'h5', 'h6'] },
          ],
        }),
      ),
    ).toBe('overlapping-groups')
    expect(reasonOf(() => checkStatsPolicy({ ...partition, groups: [partition.groups[0]!] }))).toBe(
      'policy-invalid',
    )
    expect(reasonOf(() => checkStatsPolicy({ ...partition, minGroupSize: 4 }))).toBe(
      'group-too-small',
    )
    expect(reasonOf(() => checkStatsPolicy({ ...partition, minGroupSize: 1 }))).toBe(
      'policy-invalid',
    )
  })

  it('withholds cells under the minimum count', () => {
    expect(withholdSmallCells([0, 4, 5, 100], 5)).toEqual([undefined, undefined, 5, 100])
  })
})
