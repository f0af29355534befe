import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { verifyEntryBody } from '../../node/core/body.ts'
import {
  COUNTER_COUNT,
  countersHex,
  decodeStatsAnchor,
  encryptCounters,
  G,
  periodBoundsMs,
  periodOf,
  periodUnitOf,
} from '../../node/core/stats/index.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { cellsOf } from '../../node/stats/decrypt-combiner.ts'
import { FeedScan } from '../../node/stats/feed-scan.ts'
import { decodeStatsMessage, encodeStatsMessage } from '../../node/stats/messages.ts'
import { openShare, sealShare } from '../../node/stats/share-box.ts'

const counters = () => ({
  type: 'counters',
  generation: 1,
  period: '2026-11-03',
  ciphertexts: countersHex(
    encryptCounters(
      G.multiply(7n),
      new Uint8Array(32),
      'hospital-a',
      '2026-11-03',
      new Array(COUNTER_COUNT).fill(1),
    ),
  ),
})

describe('stats entries, periods, messages and share boxes', () => {
  it('periods: the five units, their bounds, and what is not one', () => {
    expect(
      ['2026-11', '2026-11-03', '2026-11-03T10', '2026-11-03T10:15', '2026-11-03T10:15:07'].map(
        periodUnitOf,
      ),
    ).toEqual(['month', 'day', 'hour', 'minute', 'second'])
    for (const bad of [
      '2026-13',
      '2026-02-30',
      '2026-11-03T24',
      '2026-11-3',
      'x',
      '2026-11-03T10:15:07.1',
    ])
      expect(periodUnitOf(bad), bad).toBeUndefined()
    expect(periodBoundsMs('2026-12')).toMatchObject({
      start: Date.UTC(2026, 11, 1),
      end: Date.UTC(2027, 0, 1),
    })
    expect(periodBoundsMs('2026-11-03T10:15')).toMatchObject({ end: Date.UTC(2026, 10, 3, 10, 16) })
    expect(periodOf('2026-11-03T10:15:07.123Z', 'hour')).toBe('2026-11-03T10')
    expect(() => periodBoundsMs('2026-11-31')).toThrow(/a period is/)
  })

  it('a counters body is checked field by field; bad input names the field', () => {
    verifyEntryBody('stats', counters())
    const refused = (body: unknown, field: RegExp) => {
      let err: unknown
      try {
        verifyEntryBody('stats', body)
      } catch (e) {
        err = e
      }
      expect((err as { code?: string }).code).toBe('ENTRY_INVALID')
      expect(JSON.stringify((err as { details?: unknown }).details)).toMatch(field)
    }
    refused({ ...counters(), ciphertexts: 'ab' }, /ciphertexts/)
    // 64 bytes of 0xff are no ristretto255 elements.
    refused({ ...counters(), ciphertexts: 'ff'.repeat(COUNTER_COUNT * 64) }, /ciphertexts/)
    refused({ ...counters(), period: '2026-11-31' }, /period/)
    refused({ ...counters(), extra: 1 }, /extra/)
    refused({ ...counters(), generation: 0 }, /generation/)
    refused(
      { type: 'dkg-key', generation: 1, n: 3, k: 2, qualified: [2, 1], commitments: [] },
      /qualified/,
    )
    refused({ type: 'nope', generation: 1 }, /type/)
  })

  it('an anchor that is cut short or has trailing bytes is refused naming the hospital', () => {
    expect(() => decodeStatsAnchor('hospital-a', new Uint8Array(5))).toThrow(
      /hospital-a's anchor ends inside/,
    )
    const bytes = new Uint8Array(8 + 1 + 4)
    expect(() => decodeStatsAnchor('hospital-a', bytes)).toThrow(/checkpoint that does not parse/)
  })

  it('messages are signed by their sender; a changed field or another key is refused', () => {
    const a = generateKeyPairSync('ed25519').privateKey
    const keyA = ed25519RawPublicKey(a)
    const m = {
      type: 'decrypt-refusal' as const,
      from: 'hospital-a',
      id: '0'.repeat(32),
      code: 'FORBIDDEN',
      reason: 'single-hospital',
      message: 'no',
    }
    const data = encodeStatsMessage(m, a)
    expect(decodeStatsMessage(data, (n) => (n === 'hospital-a' ? keyA : undefined))).toEqual(m)
    const changed = new TextEncoder().encode(new TextDecoder().decode(data).replace('"no"', '"ok"'))
    expect(() => decodeStatsMessage(changed, () => keyA)).toThrow(
      /signature of hospital-a does not verify/,
    )
    expect(() => decodeStatsMessage(data, () => undefined)).toThrow(/not a member/)
    expect(() =>
      decodeStatsMessage(new TextEncoder().encode('{"type":"x","from":"a"}'), () => keyA),
    ).toThrow(/unknown type/)
  })

  it('a share box opens only for its recipient, from its dealer, for its context', () => {
    const seedOf = () => crypto.getRandomValues(new Uint8Array(32))
    const [dealer, to, other] = [seedOf(), seedOf(), seedOf()]
    const pub = (seed: Uint8Array) =>
      ed25519RawPublicKey(
        // node:crypto's Ed25519 key from the raw seed (PKCS#8 prefix for Ed25519).
        createPrivateKey({
          key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
          format: 'der',
          type: 'pkcs8',
        }),
      )
    const ctx = { networkId: 'n', generation: 1, dealer: 'hospital-a', to: 'hospital-b' }
    const secret = new Uint8Array(64).fill(9)
    const box = sealShare(dealer, pub(to), ctx, secret)
    expect(openShare(to, pub(dealer), ctx, box)).toEqual(secret)
    expect(() => openShare(other, pub(dealer), ctx, box)).toThrow(/does not open/)
    expect(() => openShare(to, pub(other), ctx, box)).toThrow(/does not open/)
    expect(() => openShare(to, pub(dealer), { ...ctx, generation: 2 }, box)).toThrow(
      /does not open/,
    )
  })

  it('counter names and prefixes select cells; an unknown one is refused', () => {
    expect(cellsOf(undefined)).toHaveLength(COUNTER_COUNT)
    expect(cellsOf(['events.read.*'])).toEqual([4, 5, 6, 7])
    expect(cellsOf(['failed-sign-ins', 'emergency-accesses'])).toEqual([40, 51])
    expect(() => cellsOf(['events.reed.*'])).toThrow(/no counter events.reed/)
  })
})

describe('the periods a member owes a counters entry for', () => {
  const keyBody = {
    type: 'dkg-key',
    generation: 1,
    n: 1,
    k: 1,
    qualified: [1],
    commitments: [Buffer.from(G.toBytes()).toString('hex')],
  }
  const feed = (unit: 'hour' | 'second') => {
    const entries = [
      { seq: 1, kind: 'stats', recorded: '2026-11-03T10:20:00.000Z', body: keyBody },
      {
        seq: 2,
        kind: 'event',
        recorded: '2026-11-03T11:05:00.000Z',
        body: { action: 'read', resource: 'Observation' },
      },
      {
        seq: 3,
        kind: 'event',
        recorded: '2026-11-03T11:06:00.000Z',
        body: { action: 'read', resource: 'Observation' },
      },
    ]
    const store = {
      origins: () => ['hospital-a'],
      size: () => entries.length,
      async *entries(_origin: string, from: number, to: number) {
        for (const entry of entries.slice(from - 1, to)) yield { entry }
      },
    }
    return new FeedScan(store as never, unit)
  }

  it('by the hour: every hour since the key, empty ones as zeros, until the last that ended', async () => {
    const scan = feed('hour')
    await scan.scan()
    const owed = scan.owedPeriods('hospital-a', Date.UTC(2026, 10, 3, 13, 30))
    expect(owed.map(([p]) => p)).toEqual(['2026-11-03T10', '2026-11-03T11', '2026-11-03T12'])
    expect(owed[0]![1].every((c) => c === 0)).toBe(true)
    expect(owed[1]![1][4]).toBe(2) // events.read.clinical
    expect(owed[2]![1].every((c) => c === 0)).toBe(true)
  })

  it('by the second (tests): only the periods with entries', async () => {
    const scan = feed('second')
    await scan.scan()
    expect(scan.owedPeriods('hospital-a', Date.UTC(2026, 10, 3, 13, 30)).map(([p]) => p)).toEqual([
      '2026-11-03T11:05:00',
      '2026-11-03T11:06:00',
    ])
  })
})
