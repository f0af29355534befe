import { describe, expect, it } from 'vitest'
import { verifyEntryBody } from '../../node/core/body.ts'
import { parseEvent } from '../../node/core/event.ts'
import { makeEvent } from '../helpers/fixtures.ts'

describe('verifyEntryBody for events from other nodes', () => {
  const normal = parseEvent(makeEvent(1, { notes: 'checked chart' }))

  it('accepts an event already in normal form', () => {
    expect(() => verifyEntryBody('event', normal, 'hospital-a')).not.toThrow()
    expect(() => verifyEntryBody('event', { ...normal }, 'hospital-a')).not.toThrow()
  })

  it.each([
    ['untrimmed text', { notes: ' checked chart ' }],
    ['a time not in UTC milliseconds', { time: '2023-12-04T20:00:00+01:00' }],
    ['a time without milliseconds', { time: normal.time.replace(/\.\d{3}Z$/, 'Z') }],
  ])('refuses %s as not in normal form', (_, change) => {
    expect(() => verifyEntryBody('event', { ...normal, ...change }, 'hospital-a')).toThrow(
      expect.objectContaining({
        code: 'ENTRY_INVALID',
        message: expect.stringMatching(/normal form/),
      }),
    )
  })

  it('refuses a missing default (outcome) and an unknown field by the schema', () => {
    const { outcome: _, ...noOutcome } = normal
    expect(() => verifyEntryBody('event', noOutcome, 'hospital-a')).toThrow(
      expect.objectContaining({ code: 'ENTRY_INVALID' }),
    )
    expect(() => verifyEntryBody('event', { ...normal, extra: 'x' }, 'hospital-a')).toThrow(
      expect.objectContaining({ code: 'EVENT_INVALID' }),
    )
  })
})
