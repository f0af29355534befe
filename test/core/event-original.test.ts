import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  isCanonicalBase64,
  isNormalEvent,
  LIMITS,
  normalTime,
  parseEvent,
} from '../../node/core/event.ts'

const base = {
  patientId: 'p1',
  actorId: 'a1',
  action: 'read',
  resource: 'chart',
  time: '2026-12-01T10:00:00.000Z',
  outcome: 'success',
}
const bytes = Buffer.from('<AuditMessage/>')
const kept = {
  ...base,
  source: 'PACS-1',
  originalSha256: createHash('sha256').update(bytes).digest('hex'),
  original: bytes.toString('base64'),
}

function refusal(value: unknown): string | undefined {
  try {
    parseEvent(value)
  } catch (err) {
    return isEhrlogError(err) ? String(err.details.field) : 'not an EhrlogError'
  }
  return undefined
}

describe('the fields an ATNA message keeps: source, originalSha256, original', () => {
  it('accepts them; the fast path and the schema agree', () => {
    expect(parseEvent(kept)).toEqual(kept)
    expect(isNormalEvent(kept)).toBe(true)
  })

  it.each([
    [
      'upper-case hex',
      { originalSha256: kept.originalSha256.toUpperCase() },
      'event.originalSha256',
    ],
    ['a short hash', { originalSha256: 'ab' }, 'event.originalSha256'],
    ['base64 without padding', { original: 'PEF1ZGl0TWVzc2FnZS8+'.slice(0, -1) }, 'event.original'],
    ['base64url', { original: '-_-_' }, 'event.original'],
    ['non-canonical trailing bits', { original: 'QR==' }, 'event.original'],
    ['too long', { original: 'A'.repeat(LIMITS.originalLength + 4) }, 'event.original'],
    ['an empty source', { source: ' ' }, 'event.source'],
  ])('refuses %s, in both paths', (_, change, field) => {
    const value = { ...kept, ...change }
    expect(isNormalEvent(value)).toBe(false)
    expect(refusal(value)).toBe(field)
  })
})

describe('isCanonicalBase64 without decoding', () => {
  /** What it replaced: the text decodes and encodes back to itself. */
  const roundTrips = (s: string) =>
    s.length > 0 &&
    /^[A-Za-z0-9+/]+={0,2}$/.test(s) &&
    Buffer.from(s, 'base64').toString('base64') === s

  it('agrees with the decode-and-encode round trip on encodings and near misses', () => {
    const symbol = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.é'.split(''),
    )
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(60), symbol), { maxLength: 3 }),
        fc.integer({ min: -3, max: 3 }),
        (bytes, edits, cut) => {
          let s = Buffer.from(bytes).toString('base64')
          expect(isCanonicalBase64(s)).toBe(roundTrips(s))
          if (s.length > 0) expect(isCanonicalBase64(s)).toBe(true)
          for (const [at, c] of edits) {
            const i = at % Math.max(1, s.length)
            s = s.slice(0, i) + c + s.slice(i + 1)
          }
          if (cut < 0) s = s.slice(0, cut)
          else if (cut > 0) s += '='.repeat(cut)
          expect(isCanonicalBase64(s)).toBe(roundTrips(s))
        },
      ),
      { numRuns: 20_000 },
    )
  })

  it('refuses non-zero bits past the data, in both padding lengths', () => {
    for (const s of ['QR==', 'QQ==', 'QUI=', 'QUJ=', 'QUK=', 'Q===', '====', 'QUJD', '']) {
      expect(isCanonicalBase64(s)).toBe(roundTrips(s))
    }
  })
})

describe('normalTime: the schema time check, normalized for the fast path', () => {
  it.each([
    ['2026-12-01T09:30:00Z', '2026-12-01T09:30:00.000Z'],
    ['2026-12-01T10:30:00+01:00', '2026-12-01T09:30:00.000Z'],
    ['2026-12-01T09:30:00.123456Z', '2026-12-01T09:30:00.123Z'],
  ])('normalizes %s', (time, normal) => {
    expect(normalTime(time)).toBe(normal)
    expect(parseEvent({ ...base, time: normalTime(time) })).toEqual(parseEvent({ ...base, time }))
    expect(isNormalEvent({ ...base, time: normalTime(time) })).toBe(true)
  })

  it.each([
    '2026-02-30T09:30:00Z',
    '2026-12-01 09:30',
    '2026-12-01T09:30:00',
    '10000-01-01T00:00:00Z',
  ])('leaves %s as it is, and the schema refuses it', (time) => {
    expect(normalTime(time)).toBe(time)
    expect(refusal({ ...base, time: normalTime(time) })).toBe('event.time')
  })
})
