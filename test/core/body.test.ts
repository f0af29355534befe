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

describe('verifyEntryBody: user display names and alert summaries are I-JSON (RFC 7493 §2.1)', () => {
  const register = {
    op: 'register',
    username: 'alice@hospital-b',
    name: 'Alice Auditor',
    role: 'auditor',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    kdf: { name: 'scrypt', salt: '00112233445566778899aabbccddeeff', N: 32768, r: 8, p: 1 },
  }
  const alert = {
    incidentId: 'ac28e717d698b3116fa91195d8e47a3613afa45604087ad8328e544259770300',
    kind: 'modified',
    origin: 'hospital-a',
    entryIds: ['hospital-a:1'],
    entryCount: 1,
    seqFrom: 1,
    seqTo: 1,
    detectedAt: '2026-01-02T03:04:05.678Z',
    summary: 'entry hospital-a:1 was modified in the replica of hospital-c',
  }
  // A lone high surrogate, a lone low one, and two noncharacters (U+FDD0, U+FFFE).
  const notIJson = ['Alice \uD800', '\uDC00Alice', 'Alice \uFDD0', 'Alice \uFFFE']

  it('accepts names and summaries with characters outside the BMP (a surrogate pair)', () => {
    expect(() =>
      verifyEntryBody('user', { ...register, name: 'Alice 𝒜' }, 'hospital-b'),
    ).not.toThrow()
    expect(() =>
      verifyEntryBody('alert', { ...alert, summary: `${alert.summary} 𝒜` }, 'hospital-c'),
    ).not.toThrow()
  })

  it.each(notIJson)(
    'refuses the display name %j as ENTRY_INVALID naming entry.body.name',
    (name) => {
      expect(() => verifyEntryBody('user', { ...register, name }, 'hospital-b')).toThrow(
        expect.objectContaining({
          code: 'ENTRY_INVALID',
          details: { field: 'entry.body.name' },
          message: expect.stringMatching(/I-JSON/),
        }),
      )
    },
  )

  it.each(notIJson)(
    'refuses the alert summary %j as ENTRY_INVALID naming entry.body.summary',
    (text) => {
      expect(() => verifyEntryBody('alert', { ...alert, summary: text }, 'hospital-c')).toThrow(
        expect.objectContaining({
          code: 'ENTRY_INVALID',
          details: { field: 'entry.body.summary' },
          message: expect.stringMatching(/I-JSON/),
        }),
      )
    },
  )
})
