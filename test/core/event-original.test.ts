import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { isNormalEvent, LIMITS, parseEvent } from '../../node/core/event.ts'

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
