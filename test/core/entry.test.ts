import canonicalize from 'canonicalize'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import {
  chainFieldsOf,
  decodeEntry,
  encodeEntry,
  entryId,
  isUserRecord,
  makeEntry,
  parseEntryId,
} from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { parseEvent } from '../../node/core/event.ts'
import { hashLeaf, MemoryTree } from '../../node/core/merkle/index.ts'
import { isTreeHeadSignatureValid, signTreeHead } from '../../node/core/tree-head.ts'
import { makeSigner } from '../helpers/fixtures.ts'

const event = parseEvent({
  patientId: '9',
  patientName: 'john_cena',
  actorId: '100',
  action: 'update',
  detail: 'bill',
  resource: 'user_bills',
  time: '2023-12-08T13:04:23Z',
  notes: 'User bill was modified',
})

// JSON values without floats: what ehrlog canonicalizes.
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary' }),
    fc.maxSafeInteger(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
  ),
})).value

// Any UTF-16 code unit, lone surrogates included: the escaping fast path must match JSON.stringify.
const anyText = fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)) })

const entryArb = fc.record({
  v: fc.constant(1),
  origin: fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  recorded: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  prev: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
  kind: fc.constantFrom('event' as const, 'user' as const, 'alert' as const),
  body: fc.oneof(
    fc.dictionary(anyText, jsonValue, { maxKeys: 6 }),
    // Flat bodies, like audit events: the encoder's JSON.stringify path.
    fc.dictionary(
      anyText,
      fc.oneof(anyText, fc.maxSafeInteger(), fc.boolean(), fc.constant(null)),
      { maxKeys: 10 },
    ),
  ),
})

describe('entry encoding', () => {
  it('is byte-identical to the straightforward encoder, for any code units (lone surrogates too)', () => {
    // canonicalJson as first written (arrays and join, JSON.stringify for every string); the
    // faster one must not change a single byte of any entry.
    const plain = (value: unknown): string => {
      if (value === null || typeof value !== 'object') {
        if (typeof value === 'string') return JSON.stringify(value)
        return canonicalJson(value)
      }
      if (Array.isArray(value)) return `[${value.map(plain).join(',')}]`
      const obj = value as Record<string, unknown>
      const parts: string[] = []
      for (const key of Object.keys(obj).sort()) {
        if (obj[key] !== undefined) parts.push(`${JSON.stringify(key)}:${plain(obj[key])}`)
      }
      return `{${parts.join(',')}}`
    }
    const value = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        anyText,
        fc.maxSafeInteger(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(anyText, tie('value'), { maxKeys: 4 }),
      ),
    })).value
    fc.assert(
      fc.property(value, (v) => canonicalJson(v) === plain(v)),
      { numRuns: 1000 },
    )
    // Flat objects go through JSON.stringify of a sorted copy: keys it would reorder or could
    // not assign, and objects that are not plain, must take the slow path.
    const nullProto = Object.assign(Object.create(null) as object, { b: 1, a: 'x' })
    class Point {
      y = 2
      x = 1
    }
    for (const v of [
      { '10': 1, '9': 2, a: 3, '01': 4 },
      JSON.parse('{"__proto__":"x","b":1}') as unknown,
      { toJSON: 'not a function', a: null, b: true, c: -0, d: undefined },
      nullProto,
      new Point(),
      new Date(0),
      { b: { d: 1, c: 2 }, a: [3, { f: 1, e: 2 }] },
    ]) {
      expect(canonicalJson(v)).toBe(plain(v))
    }
    expect(canonicalJson({ '10': 1, '9': 2 })).toBe('{"10":1,"9":2}')
    expect(canonicalJson('a"b\\c\u0001\ud800\u2028')).toBe(
      JSON.stringify('a"b\\c\u0001\ud800\u2028'),
    )
  })

  it('the entry encoder gives exactly the bytes of canonicalJson(entry)', () => {
    fc.assert(
      fc.property(entryArb, (entry) =>
        Buffer.from(encodeEntry(entry).bytes).equals(Buffer.from(canonicalJson(entry), 'utf8')),
      ),
      { numRuns: 500 },
    )
  })

  it('canonical JSON equals the RFC 8785 reference implementation (canonicalize, by its author)', () => {
    fc.assert(fc.property(jsonValue, (v) => canonicalJson(v) === canonicalize(v)))
    // RFC 8785 section 3.2.3 sorts keys by UTF-16 code units: "\u20ac" < "\ud83d\ude00" there,
    // though the emoji has the higher code point.
    expect(canonicalJson({ '\ud83d\ude00': 1, '\u20ac': 2, a: 3 })).toBe('{"a":3,"€":2,"😀":1}')
  })

  it('refuses floats and non-JSON values instead of encoding them ambiguously', () => {
    expect(() => canonicalJson({ a: 1.5 })).toThrow(/not a safe integer/)
    expect(() => canonicalJson({ a: 2 ** 60 })).toThrow(/not a safe integer/)
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/cannot canonicalize/)
  })

  it('reads chain fields from any bytes exactly as Buffer.lastIndexOf would find them', () => {
    // The scan as first written, with Buffer.lastIndexOf: the byte loop must agree on any input.
    const reference = (bytes: Uint8Array) => {
      const b = Buffer.from(bytes)
      const s = b.lastIndexOf('"seq":')
      const p = s < 0 ? -1 : b.lastIndexOf('"prev":"', s)
      const o = p < 0 ? -1 : b.lastIndexOf('"origin":"', p)
      if (o < 0) return undefined
      let seq = 0
      let i = s + 6
      for (; i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39 && i - s < 24; i++)
        seq = seq * 10 + b[i]! - 0x30
      const originEnd = b.indexOf(0x22, o + 10)
      if (originEnd < 0 || i === s + 6) return undefined
      return {
        origin: b.toString('utf8', o + 10, originEnd),
        seq,
        prev: b.toString('latin1', p + 8, p + 8 + 64),
      }
    }
    const piece = fc.oneof(
      fc.constantFrom('"seq":', '"prev":"', '"origin":"', '"', '12', 'ab'.repeat(32), 'x'),
      fc.string({ maxLength: 4 }),
    )
    const bytes = fc.array(piece, { maxLength: 12 }).map((parts) => Buffer.from(parts.join('')))
    fc.assert(
      fc.property(bytes, (b) => {
        expect(chainFieldsOf(b)).toEqual(reference(b))
      }),
      {
        numRuns: 2000,
      },
    )
    const e = makeEntry('hospital-a', 7, undefined, 'event', event, new Date())
    expect(chainFieldsOf(e.bytes)).toEqual({ origin: 'hospital-a', seq: 7, prev: e.entry.prev })
  })

  it('round-trips: decode(encode(entry)) gives the same bytes, hash and fields', () => {
    const e = makeEntry(
      'hospital-a',
      1,
      undefined,
      'event',
      event,
      new Date('2026-01-01T00:00:00Z'),
    )
    const d = decodeEntry(e.bytes)
    expect(d.entry).toEqual(e.entry)
    expect(Buffer.from(d.hash).equals(Buffer.from(e.hash))).toBe(true)
    expect(Buffer.from(e.hash).equals(Buffer.from(hashLeaf(e.bytes)))).toBe(true)
    expect(new TextDecoder().decode(e.bytes)).toBe(
      '{"body":{"action":"update","actorId":"100","detail":"bill","notes":"User bill was modified","outcome":"success","patientId":"9","patientName":"john_cena","resource":"user_bills","time":"2023-12-08T13:04:23.000Z"},"kind":"event","origin":"hospital-a","prev":"0000000000000000000000000000000000000000000000000000000000000000","recorded":"2026-01-01T00:00:00.000Z","seq":1,"v":1}',
    )
  })

  it('decodes exactly the canonical spelling: body keys in any other order are refused', () => {
    // decodeEntry skips the sorted copy when the parsed keys already come in order: whatever
    // order the body's keys are written in (array-index-like keys included, which JSON.parse
    // moves first), only the RFC 8785 one may pass, with its hash in both forms.
    const spelled = entryArb.chain((entry) =>
      fc
        .shuffledSubarray(Object.keys(entry.body as object), {
          minLength: Object.keys(entry.body as object).length,
        })
        .map((order) => ({ entry, order })),
    )
    fc.assert(
      fc.property(spelled, ({ entry, order }) => {
        const body = entry.body as Record<string, unknown>
        const fields = order.map((k) => `${canonicalJson(k)}:${canonicalJson(body[k])}`)
        const text = canonicalJson(entry).replace(canonicalJson(body), `{${fields.join(',')}}`)
        const canonical = text === canonicalJson(entry)
        let decoded: ReturnType<typeof decodeEntry> | undefined
        try {
          decoded = decodeEntry(Buffer.from(text, 'utf8'))
        } catch (err) {
          expect(isEhrlogError(err, 'ENTRY_INVALID')).toBe(true)
        }
        expect(decoded !== undefined).toBe(canonical)
        if (decoded) {
          expect(decoded.entry).toEqual(entry)
          expect(decoded.hashHex).toBe(Buffer.from(decoded.hash).toString('hex'))
          expect(Buffer.from(decoded.hash).equals(Buffer.from(encodeEntry(entry).hash))).toBe(true)
        }
      }),
      { numRuns: 1500 },
    )
  })

  it('tells user records from their bytes, whatever their bodies hold', () => {
    const tricky = fc.constantFrom(
      { kind: 'user', origin: 'x', note: '"kind":"user","origin":"' },
      { nested: { kind: 'user', origin: 'y' } },
      {},
    )
    fc.assert(
      fc.property(entryArb, tricky, (entry, extra) => {
        const e = { ...entry, body: { ...(entry.body as object), ...extra } }
        expect(isUserRecord(encodeEntry(e).bytes)).toBe(e.kind === 'user')
      }),
      { numRuns: 500 },
    )
  })

  it('rejects non-canonical spellings of an entry', () => {
    const e = makeEntry('hospital-a', 1, undefined, 'event', event, new Date())
    const spaced = new TextEncoder().encode(JSON.stringify(e.entry, null, 1))
    expect(() => decodeEntry(spaced)).toThrow(/canonical/)
    const { v, ...rest } = e.entry
    const reordered = new TextEncoder().encode(JSON.stringify({ v, ...rest }))
    expect(() => decodeEntry(reordered)).toThrow(/canonical/)
    // A byte-order mark decodes to nothing in a lenient decoder: the same text, other bytes.
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...e.bytes])
    expect(() => decodeEntry(withBom)).toThrow(/ENTRY_INVALID|not UTF-8 JSON|canonical/)
    expect(decodeEntry(e.bytes).hash).toEqual(e.hash)
  })

  it('a changed byte anywhere in an entry fails verification against its signed head', () => {
    const signer = makeSigner('hospital-a')
    const entries = [makeEntry('hospital-a', 1, undefined, 'event', event, new Date())]
    entries.push(makeEntry('hospital-a', 2, entries[0]!.hash, 'event', event, new Date()))
    const tree = new MemoryTree(entries.map((e) => e.hash))
    const head = signTreeHead(signer.privateKey, 'hospital-a', 2, tree.root())
    expect(isTreeHeadSignatureValid(head, signer.publicKey)).toBe(true)
    const bytes = entries[1]!.bytes
    for (let i = 0; i < bytes.length; i++) {
      const changed = Uint8Array.from(bytes)
      changed[i]! ^= 0x20
      let rejected = false
      try {
        const d = decodeEntry(changed)
        const root = new MemoryTree([entries[0]!.hash, d.hash]).root()
        rejected = !Buffer.from(root).equals(Buffer.from(head.root))
      } catch (err) {
        rejected = isEhrlogError(err, 'ENTRY_INVALID')
      }
      expect(rejected, `byte ${i} changed went unnoticed`).toBe(true)
    }
  })

  it('tree head signatures fail for another key, size, root or origin', () => {
    const a = makeSigner('hospital-a')
    const b = makeSigner('hospital-b')
    const head = signTreeHead(a.privateKey, 'hospital-a', 5, new Uint8Array(32).fill(7))
    expect(isTreeHeadSignatureValid(head, a.publicKey)).toBe(true)
    expect(isTreeHeadSignatureValid(head, b.publicKey)).toBe(false)
    expect(isTreeHeadSignatureValid({ ...head, treeSize: 6 }, a.publicKey)).toBe(false)
    expect(isTreeHeadSignatureValid({ ...head, origin: 'hospital-b' }, a.publicKey)).toBe(false)
    expect(isTreeHeadSignatureValid({ ...head, root: new Uint8Array(32) }, a.publicKey)).toBe(false)
  })

  it('entry ids are origin:seq and parse back', () => {
    expect(entryId('hospital-a', 42)).toBe('hospital-a:42')
    expect(parseEntryId('hospital-a:42')).toEqual({ origin: 'hospital-a', seq: 42 })
    for (const bad of ['hospital-a', 'hospital-a:0', ':3', 'Hospital:1', 'a:1.5', 'a:-1']) {
      expect(parseEntryId(bad)).toBeUndefined()
    }
    expect(
      encodeEntry(decodeEntry(makeEntry('h', 1, undefined, 'event', event, new Date()).bytes).entry)
        .bytes.length,
    ).toBeGreaterThan(100)
  })
})
