import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import { decodeEntry, type Entry, encodeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'

// decodeEntry checks canonical form without re-encoding a parsed entry when it can (entry.ts,
// isStringified). These tests hold it to the round trip it replaces: bytes pass the check
// exactly when they are the canonical encoding of what they parse to.

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The round trip: strict UTF-8, JSON.parse, and canonicalJson of the result equal to the text. */
function isRoundTripCanonical(bytes: Uint8Array): boolean {
  try {
    const text = strict.decode(bytes)
    return canonicalJson(JSON.parse(text)) === text
  } catch {
    return false
  }
}

type Verdict = 'accepted' | 'not canonical' | 'other'

function verdict(bytes: Uint8Array): Verdict {
  try {
    decodeEntry(bytes)
    return 'accepted'
  } catch (err) {
    expect(isEhrlogError(err, 'ENTRY_INVALID')).toBe(true)
    return /canonical form/.test((err as Error).message) ? 'not canonical' : 'other'
  }
}

// Text a body may hold: printable ASCII (the fast path), characters JSON escapes, non-ASCII,
// a paired surrogate, and any code unit at all (lone surrogates become U+FFFD in UTF-8).
const piece = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('"', '\\', '\n', '\u0001', '\u001f', '\u007f', '/', 'é', '€', '😀', '\u2028'),
  fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength: 3 }),
)
const text = fc.array(piece, { maxLength: 5 }).map((parts) => parts.join(''))
const flatBody = fc.dictionary(
  fc.oneof(text, fc.constantFrom('patientId', 'original', 'time', '__proto__', '7', 'a b')),
  fc.oneof(text, fc.maxSafeInteger(), fc.boolean(), fc.constant(null)),
  { maxKeys: 8 },
)
const entryArb: fc.Arbitrary<Entry> = fc.record({
  v: fc.constant(1),
  origin: fc.constantFrom('hospital-a', 'b', 'node-3'),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  recorded: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  prev: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
  kind: fc.constantFrom('event' as const, 'user' as const, 'alert' as const),
  body: flatBody,
})

/** Other spellings of the same JSON value, and plain damage, at a random place in the text. */
function respell(canonical: string, at: number, how: number): string {
  const i = at % (canonical.length + 1)
  const before = canonical.slice(0, i)
  const after = canonical.slice(i)
  const c = canonical[i] ?? ''
  const hex = c.charCodeAt(0).toString(16).padStart(4, '0')
  switch (how % 13) {
    case 0:
      return `${before} ${after}`
    case 1:
      return `${before}\n${after}`
    case 2: // a character as a \u escape, lower and upper case
      return `${before}\\u${hex}${after.slice(1)}`
    case 3:
      return `${before}\\u${hex.toUpperCase()}${after.slice(1)}`
    case 4: // an escaped slash, or a long escape for a short one
      return canonical.replace('/', '\\/').replace('\\n', '\\u000a')
    case 5: // numbers spelled otherwise
      return canonical.replace(/"seq":(\d+)/, (_, n) => `"seq":${n}.0`)
    case 6:
      return canonical.replace(/"v":1/, '"v":1e0')
    case 7:
      return canonical.replace(/"v":1/, '"v":-0').replace(/"seq":(\d+)/, '"seq":$1E0')
    case 8: // a duplicated body key (JSON.parse keeps the last)
      return canonical.replace('{"body":{', '{"body":{"patientId":"x",')
    case 9: // a flipped byte's worth of change
      return `${before}${String.fromCharCode(c.charCodeAt(0) ^ 0x20)}${after.slice(1)}`
    case 10:
      return `${before}${after.slice(1)}`
    case 11: // whitespace JSON.parse allows around the value
      return how % 2 ? `${canonical}${' \n\t\r'[how % 4]}` : ` ${canonical}`
    default:
      return `${before}${c}${after}`
  }
}

describe('decodeEntry canonical check', () => {
  it('accepts every canonical entry, whatever its strings hold', () => {
    fc.assert(
      fc.property(entryArb, (entry) => {
        const { bytes } = encodeEntry(entry)
        // Lone surrogates do not survive UTF-8: then the bytes are another entry's.
        if (!isRoundTripCanonical(bytes)) return
        const decoded = decodeEntry(bytes)
        expect(decoded.entry).toEqual(JSON.parse(Buffer.from(bytes).toString('utf8')))
      }),
      { numRuns: 3000 },
    )
  })

  it('gives the round trip’s verdict on respelled and damaged entries', () => {
    let refused = 0
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.nat(), (entry, at, how) => {
        const canonical = Buffer.from(encodeEntry(entry).bytes).toString('utf8')
        const bytes = Buffer.from(respell(canonical, at, how), 'utf8')
        const v = verdict(bytes)
        if (isRoundTripCanonical(bytes)) expect(v).not.toBe('not canonical')
        else {
          expect(v).not.toBe('accepted')
          refused++
        }
      }),
      { numRuns: 6000 },
    )
    expect(refused).toBeGreaterThan(3000)
  })

  it('refuses each other spelling of an audit event entry', () => {
    const entry: Entry = {
      v: 1,
      origin: 'hospital-a',
      seq: 12,
      recorded: '2026-12-06T11:00:00.000Z',
      prev: 'ab'.repeat(32),
      kind: 'event',
      body: {
        action: 'read',
        actorId: 'dr-5',
        original: 'PD94bWwgdmVyc2lvbj0iMS4wIj8+PEF1ZGl0TWVzc2FnZS8+',
        outcome: 'success',
        patientId: 'PAT-1',
        resource: 'Patient Number',
        time: '2026-12-01T09:30:00.000Z',
      },
    }
    const canonical = Buffer.from(encodeEntry(entry).bytes).toString('utf8')
    expect(decodeEntry(Buffer.from(canonical)).entry).toEqual(entry)
    const spellings = [
      canonical.replace('"PAT-1"', '"PAT\\u002d1"'), // an escape where none is needed
      canonical.replace('"dr-5"', '"dr\\u002D5"'),
      canonical.replace('PD94', 'PD\\u00394'),
      canonical.replace('"seq":12', '"seq":12.0'),
      canonical.replace('"seq":12', '"seq":1.2e1'),
      canonical.replace('"v":1}', '"v":1 }'),
      canonical.replace('{"body":{', '{"body": {'),
      canonical.replace('{"body":{', '{"body":{"action":"read",'), // a duplicate key
      canonical.replace('"action":"read","actorId":"dr-5"', '"actorId":"dr-5","action":"read"'),
      `${canonical} `,
      `\ufeff${canonical}`,
    ]
    for (const s of spellings) {
      expect(s).not.toBe(canonical)
      expect(() => decodeEntry(Buffer.from(s)), s).toThrow(/canonical form|UTF-8 JSON/)
    }
  })
})
