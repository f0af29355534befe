import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { parseEvent } from '../../node/core/event.ts'

const valid = {
  patientId: '1',
  patientName: 'anish',
  actorId: '12',
  action: 'print',
  detail: 'prescription',
  resource: 'user_prescriptions',
  time: '2023-12-04T19:22:00-08:00',
  notes: 'Doctor printed the prescription',
}

function fieldOf(input: unknown): string | undefined {
  try {
    parseEvent(input)
    return undefined
  } catch (err) {
    expect(isEhrlogError(err, 'EVENT_INVALID')).toBe(true)
    return (err as { details: { field: string } }).details.field
  }
}

describe('audit event validation', () => {
  it('accepts the seed row and normalizes time to UTC and outcome to success', () => {
    const event = parseEvent(valid)
    expect(event.time).toBe('2023-12-05T03:22:00.000Z')
    expect(event.outcome).toBe('success')
    expect(event.patientName).toBe('anish')
  })

  it('names the bad field for each kind of bad input', () => {
    const { actorId: _, ...missingActor } = valid
    expect(fieldOf(missingActor)).toBe('event.actorId')
    expect(fieldOf({ ...valid, action: 'steal' })).toBe('event.action')
    expect(fieldOf({ ...valid, patientId: 42 })).toBe('event.patientId')
    expect(fieldOf({ ...valid, notes: 'x'.repeat(2001) })).toBe('event.notes')
    expect(fieldOf({ ...valid, time: '04-12-2023 19:22:00' })).toBe('event.time')
    expect(fieldOf({ ...valid, time: '2023-02-30T10:00:00Z' })).toBe('event.time')
    expect(fieldOf({ ...valid, time: '1969-12-31T23:59:00Z' })).toBe('event.time')
    expect(fieldOf({ ...valid, resource: '   ' })).toBe('event.resource')
    expect(fieldOf({ ...valid, notes: 'line\nbreak' })).toBe('event.notes')
    expect(fieldOf({ ...valid, extra: 1 })).toBe('event')
    expect(fieldOf('not an object')).toBe('event')
  })

  it('says what was wrong in the message', () => {
    expect(() => parseEvent({ ...valid, action: 'steal' })).toThrow(
      /event\.action must be one of create, read/,
    )
    expect(() => parseEvent({ ...valid, extra: 1 })).toThrow(/unknown field\(s\) extra/)
  })
})
