import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  ACTIONS,
  type AuditEvent,
  auditEventSchema,
  isNormalEvent,
  OUTCOMES,
  parseEvent,
} from '../../node/core/event.ts'

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

  it('refuses text that is not I-JSON (RFC 7493 §2.1): lone surrogates and noncharacters', () => {
    const notIJson = [
      '\ud800', // a high surrogate alone
      'a\udc00b', // a low surrogate alone
      '\ude00\ud83d', // a pair in the wrong order is two lone halves
      '\ufdd0',
      '\ufdef',
      'x\ufffe',
      '\uffff',
      '\u{1fffe}',
      '\u{10ffff}',
    ]
    for (const bad of notIJson) {
      for (const field of ['patientId', 'patientName', 'actorName', 'resource', 'notes']) {
        expect(fieldOf({ ...valid, [field]: bad })).toBe(`event.${field}`)
      }
    }
    expect(() => parseEvent({ ...valid, notes: 'ok \ud800' })).toThrow(
      /event\.notes must not contain lone surrogates or Unicode noncharacters/,
    )
    // Their neighbours are ordinary text: a surrogate pair, U+FDCF, U+FDF0, U+FFFD, U+10FFFD.
    for (const good of ['\ud83d\ude00', '\ufdcf', '\ufdf0', '\ufffd', '\u{10fffd}']) {
      expect(parseEvent({ ...valid, notes: good }).notes).toBe(good)
    }
  })

  it('accepts well-formed text and refuses text with a lone surrogate (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), (s) => {
        const wellFormed = !/[\p{Surrogate}\p{Noncharacter_Code_Point}]/u.test(s)
        const clean = /^[^\u0000-\u001f\u007f]*$/.test(s) && s.trim().length > 0
        if (!clean) return
        const result = auditEventSchema.safeParse({ ...valid, notes: s })
        expect(result.success).toBe(wellFormed)
      }),
      { numRuns: 2000 },
    )
    // Half of a pair cut off, as a client slicing UTF-16 at a fixed length would.
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), (s) => {
        const cut = `${s}\ud83d`
        expect(fieldOf({ ...valid, notes: cut })).toBe('event.notes')
      }),
      { numRuns: 300 },
    )
  })

  it('says what was wrong in the message', () => {
    expect(() => parseEvent({ ...valid, action: 'steal' })).toThrow(
      /event\.action must be one of create, read/,
    )
    expect(() => parseEvent({ ...valid, extra: 1 })).toThrow(/unknown field\(s\) extra/)
  })
})

describe('isNormalEvent, the schema-free fast path', () => {
  const schemaSaysNormal = (value: unknown): boolean => {
    const parsed = auditEventSchema.safeParse(value)
    if (!parsed.success) return false
    const raw = value as Record<string, unknown>
    const keys = Object.keys(parsed.data).filter(
      (k) => parsed.data[k as keyof typeof parsed.data] !== undefined,
    )
    return (
      keys.length === Object.keys(raw).length &&
      keys.every((k) => raw[k] === parsed.data[k as keyof typeof parsed.data])
    )
  }
  // Values near every edge the schema draws: lengths, whitespace, controls, time forms.
  const text = fc.oneof(
    fc.constantFrom('', ' ', 'a', ' a', 'a ', 'a\u0000b', 'a\tb', 'x'.repeat(128), 'x'.repeat(129)),
    fc.constantFrom(
      '\ud800',
      'a\udc00',
      '\ud83d\ude00',
      '\ufdd0',
      '\uffff',
      '\u{10fffe}',
      '\ufffd',
    ),
    fc.constantFrom('x'.repeat(200), 'x'.repeat(201), 'n'.repeat(2000), 'n'.repeat(2001)),
    fc.string({ maxLength: 12 }),
  )
  const time = fc.oneof(
    fc
      .date({ min: new Date(Date.UTC(1960, 0)), max: new Date(Date.UTC(9999, 11, 31)) })
      .map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
    fc.constantFrom(
      '2023-12-04T19:22:00Z',
      '2023-12-04T19:22:00.000+01:00',
      '2023-02-30T10:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00.000Z',
      '2023-12-04T19:22:00.000z',
      ' 2023-12-04T19:22:00.000Z',
    ),
  )
  const ABSENT = Symbol('absent')
  // Mostly a value near the edges; sometimes absent, sometimes of the wrong type (undefined
  // included: a key present with no value).
  const field = (value: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 8, arbitrary: value },
      { weight: 2, arbitrary: fc.constant(ABSENT) },
      { weight: 1, arbitrary: fc.constantFrom(1, null, undefined, {}) },
    )
  const valueFor: Record<string, fc.Arbitrary<unknown>> = {
    action: fc.constantFrom(...ACTIONS, 'READ', 'fly'),
    time,
    outcome: fc.constantFrom(...OUTCOMES, 'ok'),
  }
  const keys = [
    'patientId',
    'patientName',
    'actorId',
    'actorName',
    'action',
    'detail',
    'resource',
    'resourceId',
    'time',
    'outcome',
    'notes',
    'extra',
  ]
  const base = parseEvent(valid)
  // A normal event with up to three fields changed to edge values, made absent, or given
  // a wrong type, so both answers come up often.
  const event = fc
    .array(
      fc
        .constantFrom(...keys)
        .chain((key) => fc.tuple(fc.constant(key), field(valueFor[key] ?? text))),
      { maxLength: 3 },
    )
    .map((changes) => {
      const out: Record<string, unknown> = { ...base }
      for (const [key, value] of changes) {
        if (value === ABSENT) delete out[key]
        else out[key] = value
      }
      return out
    })

  it('says normal only when the schema accepts the event unchanged', () => {
    let normal = 0
    fc.assert(
      fc.property(event, (value) => {
        const fast = isNormalEvent(value)
        if (fast) normal++
        expect(fast).toBe(schemaSaysNormal(value))
      }),
      { numRuns: 5000 },
    )
    // Both sides come up: the property is not passing on one answer alone.
    expect(normal).toBeGreaterThan(500)
    expect(normal).toBeLessThan(4500)
  })

  it('accepts what parseEvent produces, and parseEvent gives it back as a copy', () => {
    fc.assert(
      fc.property(
        fc.record({
          patientId: fc.string({ minLength: 1, maxLength: 20 }),
          actorId: fc.string({ minLength: 1, maxLength: 20 }),
          time: fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0)) }),
          notes: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
        }),
        (r) => {
          let normal: AuditEvent
          try {
            normal = parseEvent({
              ...r,
              action: 'read',
              resource: 'user_prescriptions',
              time: r.time.toISOString(),
            })
          } catch {
            return // blank or control characters: the schema refuses, nothing to compare
          }
          const plain = JSON.parse(JSON.stringify(normal)) as unknown
          expect(isNormalEvent(plain)).toBe(true)
          const again = parseEvent(plain)
          expect(again).toEqual(normal)
          expect(again).not.toBe(plain)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('refuses objects that are not plain records', () => {
    const normal = JSON.parse(JSON.stringify(parseEvent(valid))) as object
    expect(isNormalEvent(normal)).toBe(true)
    expect(isNormalEvent(Object.assign(Object.create(null), normal))).toBe(false)
    expect(isNormalEvent(JSON.parse(`{"__proto__":"x",${JSON.stringify(normal).slice(1)}`))).toBe(
      false,
    )
    expect(isNormalEvent([normal])).toBe(false)
    expect(isNormalEvent(null)).toBe(false)
  })
})
