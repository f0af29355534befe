import { EhrlogError } from '../errors.ts'

/*
 * Statistics periods (docs/format.md, "Private network statistics"): a period is a prefix of the
 * ISO 8601 UTC time `recorded` in every entry, so an entry is in period P when its `recorded`
 * starts with P. A network counts in one unit (stats.json `period`, default `day`); periods of
 * one unit never overlap, and members refuse a request in another unit (mixing a month with its
 * days would let a month minus its published days give back a withheld day).
 *
 *   month   2026-11
 *   day     2026-11-03            (the default)
 *   hour    2026-11-03T10
 *   minute  2026-11-03T10:15      (tests, demos)
 *   second  2026-11-03T10:15:07   (tests)
 */

export const PERIOD_UNITS = ['month', 'day', 'hour', 'minute', 'second'] as const
export type PeriodUnit = (typeof PERIOD_UNITS)[number]

const FORMS: Record<PeriodUnit, RegExp> = {
  month: /^\d{4}-(0[1-9]|1[0-2])$/,
  day: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  hour: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])$/,
  minute: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d$/,
  second: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/,
}
const LENGTH: Record<PeriodUnit, number> = { month: 7, day: 10, hour: 13, minute: 16, second: 19 }

/** The unit of a well-formed period, or undefined. */
export function periodUnitOf(period: string): PeriodUnit | undefined {
  const unit = PERIOD_UNITS.find((u) => FORMS[u].test(period))
  // 2026-02-30 has the form of a day but is none.
  return unit && Number.isFinite(periodStartMs(period, unit)) ? unit : undefined
}

export function isPeriodUnit(text: string): text is PeriodUnit {
  return (PERIOD_UNITS as readonly string[]).includes(text)
}

function periodStartMs(period: string, unit: PeriodUnit): number {
  const padded = `${period}${'0000-01-01T00:00:00'.slice(LENGTH[unit])}Z`
  const ms = Date.parse(padded)
  return new Date(ms).toISOString().slice(0, LENGTH[unit]) === period ? ms : Number.NaN
}

/** The period of unit `unit` that `time` (ms since 1970, or an ISO time) falls in. */
export function periodOf(time: number | string, unit: PeriodUnit): string {
  const iso = typeof time === 'string' ? time : new Date(time).toISOString()
  return iso.slice(0, LENGTH[unit])
}

/** [start, end) of a period in ms since 1970; ARGUMENT_INVALID if it is not one. */
export function periodBoundsMs(period: string): { start: number; end: number; unit: PeriodUnit } {
  const unit = periodUnitOf(period)
  if (!unit) throw periodError(period)
  const start = periodStartMs(period, unit)
  if (unit === 'month') {
    const d = new Date(start)
    return { start, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1), unit }
  }
  const step = { day: 86_400_000, hour: 3_600_000, minute: 60_000, second: 1000 }[unit]
  return { start, end: start + step, unit }
}

export function periodError(period: string): EhrlogError {
  return new EhrlogError(
    'ARGUMENT_INVALID',
    `a period is a UTC month, day, hour, minute or second like 2026-11, 2026-11-03 or 2026-11-03T10:15, got "${period.slice(0, 40)}"`,
    { details: { field: 'period' } },
  )
}
