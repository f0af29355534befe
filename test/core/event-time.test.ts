import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isNormalEvent, isNormalTime } from '../../node/core/event.ts'

/** The check isNormalTime replaces: a Date round trip, from 1970 to the start of 10000. */
function roundTrips(time: string): boolean {
  const ms = Date.parse(time)
  return ms >= 0 && ms < Date.UTC(10000, 0) && new Date(ms).toISOString() === time
}

const END = Date.UTC(10000, 0)

describe('isNormalTime', () => {
  it('accepts exactly what toISOString writes for a time from 1970 to 9999', () => {
    // Normal times, and times near and outside the range.
    const ms = fc.oneof(
      fc.integer({ min: 0, max: END - 1 }),
      fc.integer({ min: -1e13, max: 3e14 }),
      fc.constantFrom(
        0,
        -1,
        END - 1,
        END,
        Date.UTC(2024, 1, 29),
        Date.UTC(2100, 1, 28, 23, 59, 59, 999),
      ),
    )
    fc.assert(
      fc.property(ms, (t) => {
        const d = new Date(t)
        const text = d.toISOString()
        expect(isNormalTime(text)).toBe(roundTrips(text))
        expect(isNormalTime(text)).toBe(t >= 0 && t < END)
      }),
      { numRuns: 5000 },
    )
  })

  it('gives the round trip’s answer on damaged and other spellings', () => {
    const respelled = fc
      .tuple(
        fc.integer({ min: 0, max: END - 1 }).map((t) => new Date(t).toISOString()),
        fc.nat(),
        fc.constantFrom(...'0123456789-:.TZtz +/'.split(''), '', '00', '9'),
      )
      .map(([text, at, c]) => {
        const i = at % 24
        return text.slice(0, i) + c + text.slice(i + (at % 3 === 0 ? 0 : 1))
      })
    fc.assert(
      fc.property(fc.oneof(respelled, fc.string({ maxLength: 26 })), (text) => {
        expect(isNormalTime(text)).toBe(roundTrips(text))
      }),
      { numRuns: 20_000 },
    )
    for (const text of [
      '2023-02-29T00:00:00.000Z', // not a leap year
      '2024-02-30T00:00:00.000Z',
      '2023-04-31T00:00:00.000Z',
      '2023-13-01T00:00:00.000Z',
      '2023-00-10T00:00:00.000Z',
      '2023-01-00T00:00:00.000Z',
      '2023-01-01T24:00:00.000Z',
      '2023-01-01T23:60:00.000Z',
      '2023-01-01T23:59:60.000Z',
      '1969-12-31T23:59:59.999Z',
      '2023-01-01T00:00:00Z',
      '2023-01-01T00:00:00.000+00:00',
      '+002023-01-01T00:00:00.000Z',
      '2023-01-01 00:00:00.000Z',
      '2023-01-01T00:00:00.00aZ',
    ]) {
      expect(isNormalTime(text), text).toBe(false)
      expect(roundTrips(text), text).toBe(false)
    }
    for (const text of [
      '2024-02-29T00:00:00.000Z',
      '2000-02-29T12:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z',
    ]) {
      expect(isNormalTime(text), text).toBe(true)
    }
  })

  it('an event with a time not in normal form is not normal', () => {
    const event = {
      patientId: 'p',
      actorId: 'a',
      action: 'read',
      resource: 'r',
      time: '2024-02-29T00:00:00.000Z',
      outcome: 'success',
    }
    expect(isNormalEvent(event)).toBe(true)
    for (const time of [
      '2023-02-29T00:00:00.000Z',
      '2024-02-29T00:00:00Z',
      '1969-12-31T23:59:59.999Z',
    ])
      expect(isNormalEvent({ ...event, time }), time).toBe(false)
  })
})
