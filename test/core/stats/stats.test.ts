import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { INCIDENT_KINDS } from '../../../node/core/alert-body.ts'
import { makeEntry } from '../../../node/core/entry.ts'
import { isEhrlogError } from '../../../node/core/errors.ts'
import { parseEvent } from '../../../node/core/event.ts'
import {
  addCiphertexts,
  COUNTER_COUNT,
  COUNTER_NAMES,
  checkShare,
  ciphertextToBytes,
  combineDealings,
  combineShares,
  countersOf,
  type DkgParams,
  deal,
  decodeStatsBundle,
  decryptToPoint,
  encodeStatsBundle,
  encrypt,
  encryptCounters,
  G,
  lagrangeAtZero,
  mulSecret,
  publicKeyOf,
  qualifiedDealings,
  randomScalar,
  resolveComplaint,
  STATS_INCIDENT_KINDS,
  STATS_TAGS,
  scalarFromBytes,
  scalarToBytes,
  sharePublicKey,
  smallDiscreteLog,
  verifyDealing,
  verifyStatsBundle,
} from '../../../node/core/stats/index.ts'
import { countsFor, makeBundle, runDkg, SEED } from './network.ts'

function refusal(fn: () => unknown): { code?: string; reason?: unknown; message?: string } {
  try {
    fn()
    return {}
  } catch (err) {
    if (!isEhrlogError(err)) throw err
    return { code: err.code, reason: err.details.reason, message: err.message }
  }
}

const ORIGINS3 = ['hospital-a', 'hospital-b', 'hospital-c']

describe('exponential ElGamal over ristretto255', () => {
  it('adds: Enc(a) + Enc(b) decrypts to a + b, and the small log is found', () => {
    const x = randomScalar()
    const y = mulSecret(G, x)
    const sum = addCiphertexts(encrypt(y, 41, randomScalar()), encrypt(y, 1, randomScalar()))
    expect(smallDiscreteLog(decryptToPoint(x, sum))).toBe(42)
  })

  it('solves totals across the baby/giant boundary and at the 2^32 bound, refuses beyond', () => {
    for (const t of [0, 1, 65_535, 65_536, 65_537, 1_000_003, 2 ** 32 - 1]) {
      expect(smallDiscreteLog(mulSecret(G, BigInt(t)))).toBe(t)
    }
    expect(refusal(() => smallDiscreteLog(mulSecret(G, 2n ** 32n))).reason).toBe(
      'total-out-of-range',
    )
  })

  it('property: the sum of encryptions of small counts decrypts to the sum of the counts', () => {
    const x = randomScalar()
    const y = mulSecret(G, x)
    fc.assert(
      fc.property(fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 8 }), (counts) => {
        const total = counts
          .map((m) => encrypt(y, m, randomScalar()))
          .reduce((a, b) => addCiphertexts(a, b))
        expect(smallDiscreteLog(decryptToPoint(x, total))).toBe(counts.reduce((a, b) => a + b, 0))
      }),
      { numRuns: 25 },
    )
  })

  it('derives nonces per origin, period and cell: the same counts encrypt differently', () => {
    const { key } = runDkg(3)
    const y = publicKeyOf(key)
    const a = encryptCounters(y, SEED, 'hospital-a', '2026-11', [5, 5])
    const b = encryptCounters(y, SEED, 'hospital-b', '2026-11', [5, 5])
    const c = encryptCounters(y, SEED, 'hospital-a', '2026-12', [5, 5])
    const hex = (v: typeof a) => v.map((x) => Buffer.from(ciphertextToBytes(x)).toString('hex'))
    const all = [...hex(a), ...hex(b), ...hex(c)]
    expect(new Set(all).size).toBe(6)
    // ...and deterministically: a member recomputes the very same bytes.
    expect(hex(encryptCounters(y, SEED, 'hospital-a', '2026-11', [5, 5]))).toEqual(hex(a))
  })
})

describe('distributed key generation (Pedersen, Feldman commitments)', () => {
  for (const n of [3, 16]) {
    it(`${n} members: every share checks, any k shares give the key, X_j = x_j·G`, () => {
      const { key, secretShares } = runDkg(n)
      expect(key.k).toBe(Math.floor(n / 2) + 1)
      for (let j = 1; j <= n; j++) {
        const x = scalarFromBytes(secretShares.get(j)!)!
        expect(sharePublicKey(key, j).equals(mulSecret(G, x))).toBe(true)
      }
      // Lagrange at 0 over two different k-subsets recovers the same secret, whose key is Y.
      for (const members of [
        Array.from({ length: key.k }, (_, i) => i + 1),
        Array.from({ length: key.k }, (_, i) => n - i),
      ]) {
        const lambdas = lagrangeAtZero(members)
        const secret = members.reduce(
          (acc, j, i) => acc + lambdas[i]! * scalarFromBytes(secretShares.get(j)!)!,
          0n,
        )
        expect(mulSecret(G, secret).equals(publicKeyOf(key))).toBe(true)
      }
      // k - 1 shares interpolate to something else.
      const few = Array.from({ length: key.k - 1 }, (_, i) => i + 1)
      if (few.length > 0) {
        const lambdas = lagrangeAtZero(few)
        const wrong = few.reduce(
          (acc, j, i) => acc + lambdas[i]! * scalarFromBytes(secretShares.get(j)!)!,
          0n,
        )
        expect(mulSecret(G, wrong).equals(publicKeyOf(key))).toBe(false)
      }
    })
  }

  it('a bad share is caught and the complaint decides; a faulty dealer is left out', () => {
    const params: DkgParams = { n: 3, k: 2, context: new Uint8Array([1]) }
    const dealers = [1, 2, 3].map((i) => deal(params, i))
    const cheat = dealers[2]!
    const honestShare = cheat.shares.get(2)!
    const bad = scalarToBytes(scalarFromBytes(honestShare)! + 1n)
    expect(checkShare(params, cheat.dealing, 2, honestShare)).toBe(true)
    expect(checkShare(params, cheat.dealing, 2, bad)).toBe(false)
    expect(checkShare(params, cheat.dealing, 2, new Uint8Array(32).fill(0xff))).toBe(false)
    expect(resolveComplaint(params, cheat.dealing, 2, honestShare)).toBe('complaint-unfounded')
    expect(resolveComplaint(params, cheat.dealing, 2, bad)).toBe('dealer-faulty')
    expect(resolveComplaint(params, cheat.dealing, 2, undefined)).toBe('dealer-faulty')
    // From the feeds alone: dealer 3 answered member 2's complaint with the bad share.
    const qualified = qualifiedDealings(
      params,
      dealers.map((d) => d.dealing),
      [
        { dealer: 3, member: 2, revealed: bad },
        { dealer: 1, member: 3, revealed: dealers[0]!.shares.get(3)! },
      ],
    )
    expect(qualified.map((d) => d.dealer)).toEqual([1, 2])
    expect(
      qualifiedDealings(params, [...dealers.map((d) => d.dealing), deal(params, 2).dealing]).map(
        (d) => d.dealer,
      ),
    ).toEqual([1, 3])
    // Without dealer 3 the key and shares still agree.
    const key = combineDealings(params, [dealers[0]!.dealing, dealers[1]!.dealing])
    for (const j of [1, 2, 3]) {
      const x = combineShares([dealers[0]!.shares.get(j)!, dealers[1]!.shares.get(j)!])
      expect(sharePublicKey(key, j).equals(mulSecret(G, scalarFromBytes(x)!))).toBe(true)
    }
  })

  it('refuses a dealing whose key part is not proven (a rogue key) or is malformed', () => {
    const params: DkgParams = { n: 3, k: 2, context: new Uint8Array([1]) }
    const honest = deal(params, 1).dealing
    const other = deal(params, 2).dealing
    // Dealer 2 swaps in a key part chosen after seeing dealer 1's: its proof no longer holds.
    const rogue = { ...other, commitments: [honest.commitments[0]!, other.commitments[1]!] }
    expect(refusal(() => verifyDealing(params, rogue)).reason).toBe('dealing-invalid')
    // A proof made for another key generation does not carry over.
    expect(
      refusal(() => verifyDealing({ ...params, context: new Uint8Array([2]) }, honest)).reason,
    ).toBe('dealing-invalid')
    const broken = {
      ...honest,
      commitments: [new Uint8Array(32).fill(0xff), honest.commitments[1]!],
    }
    expect(refusal(() => verifyDealing(params, broken)).message).toContain('commitment 0')
    expect(() => combineDealings(params, [honest])).toThrow(/cannot make a 2-of-3 key/)
  })
})

describe('threshold decryption and the statistics bundle', () => {
  const net = runDkg(3)
  // One November bundle decrypted by members 1 and 2, shared by the refusal tests (each
  // changes a copy).
  let shared: ReturnType<typeof makeBundle> | undefined
  const november = () => {
    shared ??= makeBundle(net, ORIGINS3, '2026-11', [1, 2])
    return shared
  }

  it('2 of 3 decrypt with member 2 missing; the bundle verifies with no secret and round-trips', () => {
    const bundle = makeBundle(net, ORIGINS3, '2026-11', [1, 3])
    const bytes = encodeStatsBundle(bundle)
    const verified = verifyStatsBundle(bytes, {
      period: '2026-11',
      publicKey: publicKeyOf(net.key).toBytes(),
    })
    const expected = Array.from({ length: COUNTER_COUNT }, (_, l) =>
      [0, 1, 2].reduce((acc, i) => acc + countsFor(i)[l]!, 0),
    )
    expect(verified.totals).toEqual(expected)
    expect(verified.sharesFrom).toEqual([1, 3])
    expect(verified.origins).toEqual(ORIGINS3)
    expect(encodeStatsBundle(decodeStatsBundle(bytes))).toEqual(bytes)
  })

  it('one share is not enough', () => {
    expect(refusal(() => makeBundle(net, ORIGINS3, '2026-11', [2])).reason).toBe('too-few-shares')
  })

  it('refuses a forged decryption share, naming the member', () => {
    const bundle = november()
    // Member 2 claims x_2·C1 + G for cell 5: the total would be off by one.
    const forged = { ...bundle.shares[1]! }
    forged.shares = forged.shares.map((d, l) => (l === 5 ? d.add(G) : d))
    const bytes = encodeStatsBundle({ ...bundle, shares: [bundle.shares[0]!, forged] })
    const r = refusal(() => verifyStatsBundle(bytes))
    expect(r).toMatchObject({ code: 'INVALID_PROOF', reason: 'share-forged' })
    expect(r.message).toContain('member 2')
  })

  it('refuses shares made for another period, and a bundle of the wrong period', () => {
    const december = makeBundle(net, ORIGINS3, '2026-12', [1, 2])
    const spliced = encodeStatsBundle({ ...december, shares: november().shares })
    expect(refusal(() => verifyStatsBundle(spliced)).reason).toBe('share-forged')
    const r = refusal(() => verifyStatsBundle(encodeStatsBundle(december), { period: '2026-11' }))
    expect(r).toMatchObject({ code: 'INVALID_PROOF', reason: 'wrong-period' })
  })

  it('refuses a malformed ciphertext, a doctored sum, a wrong total and an unexpected key', () => {
    const bundle = november()
    const bytes = encodeStatsBundle(bundle)
    // Break hospital-b's first ciphertext (its C1 becomes 32 bytes of ff: not canonical).
    const at = findCiphertext(bytes, ciphertextToBytes(bundle.hospitals[1]!.ciphertexts[0]!))
    const broken = bytes.slice()
    broken.fill(0xff, at, at + 32)
    const r = refusal(() => verifyStatsBundle(broken))
    expect(r).toMatchObject({ code: 'FILE_INVALID', reason: 'malformed-ciphertext' })
    expect(r.message).toContain("hospital-b's ciphertext 0")

    const y = publicKeyOf(net.key)
    const swapped = {
      ...bundle,
      hospitals: bundle.hospitals.map((h, i) =>
        i === 0
          ? { ...h, ciphertexts: h.ciphertexts.map((c, l) => (l === 3 ? encrypt(y, 0, 1n) : c)) }
          : h,
      ),
    }
    expect(refusal(() => verifyStatsBundle(encodeStatsBundle(swapped))).reason).toBe('sum-mismatch')

    const lying = { ...bundle, totals: bundle.totals.map((t, l) => (l === 7 ? t! + 1 : t)) }
    const lie = refusal(() => verifyStatsBundle(encodeStatsBundle(lying)))
    expect(lie).toMatchObject({ code: 'INVALID_PROOF', reason: 'total-mismatch' })

    const other = runDkg(3)
    expect(
      refusal(() => verifyStatsBundle(bytes, { publicKey: publicKeyOf(other.key).toBytes() }))
        .reason,
    ).toBe('wrong-key')
    expect(refusal(() => verifyStatsBundle(bytes.subarray(0, bytes.length - 1))).reason).toBe(
      'malformed',
    )
  })

  it('withholds small cells: no shares for them, the rest verifies', () => {
    const published = [0, 1, 2, 40, 50]
    const bundle = makeBundle(net, ORIGINS3, '2026-11', [2, 3], undefined, published)
    const verified = verifyStatsBundle(encodeStatsBundle(bundle))
    expect(verified.totals.filter((t) => t !== undefined)).toHaveLength(published.length)
    expect(verified.totals[3]).toBeUndefined()
    expect(bundle.shares[0]!.shares).toHaveLength(published.length)
  })

  it('a bundle over one hospital is refused', () => {
    const bundle = makeBundle(net, ['hospital-a'], '2026-11', [1, 2])
    expect(refusal(() => verifyStatsBundle(encodeStatsBundle(bundle))).reason).toBe(
      'too-few-hospitals',
    )
  })
})

describe('committed counters: members recompute each hospital’s ciphertexts from its feed', () => {
  const period = '2026-11'
  const recorded = '2026-11-03T10:00:00.000Z'
  function feed(origin: string, reads: number, failedLogins: number) {
    const bodies = [
      ...Array.from({ length: reads }, (_, i) => ({
        patientId: `p${i}`,
        actorId: 'dr-1',
        action: 'read',
        resource: 'user_prescriptions',
        time: '2026-11-03T09:00:00Z',
      })),
      ...Array.from({ length: failedLogins }, () => ({
        patientId: 'none',
        actorId: 'dr-2',
        action: 'login',
        resource: 'session',
        outcome: 'failure',
        time: '2026-11-03T09:00:00Z',
      })),
    ]
    let prev: Uint8Array | undefined
    return bodies.map((b, i) => {
      const made = makeEntry(origin, i + 1, prev, 'event', parseEvent(b), recorded)
      prev = made.hash
      return made.entry
    })
  }

  it('counts a feed into the table', () => {
    const counts = countersOf(feed('hospital-a', 4, 2), period)
    expect(counts[COUNTER_NAMES.indexOf('events.read.medication')]).toBe(4)
    expect(counts[COUNTER_NAMES.indexOf('events.login.other')]).toBe(2)
    expect(counts[COUNTER_NAMES.indexOf('failed-sign-ins')]).toBe(2)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(8)
    expect(countersOf(feed('hospital-a', 4, 2), '2026-12').every((c) => c === 0)).toBe(true)
  })

  it('an under-reporting hospital is caught at the cell it shaved; an honest one matches', () => {
    const y = publicKeyOf(runDkg(3).key)
    const feeds = { 'hospital-a': feed('hospital-a', 5, 1), 'hospital-b': feed('hospital-b', 9, 3) }
    // hospital-b publishes 2 failed sign-ins instead of 3.
    const trueB = countersOf(feeds['hospital-b'], period)
    const shaved = trueB.map((c, l) => (COUNTER_NAMES[l] === 'failed-sign-ins' ? c - 1 : c))
    const published = {
      'hospital-a': encryptCounters(
        y,
        SEED,
        'hospital-a',
        period,
        countersOf(feeds['hospital-a'], period),
      ),
      'hospital-b': encryptCounters(y, SEED, 'hospital-b', period, shaved),
    }
    // Any member, from its own copy of the feeds and the shared seed:
    const mismatches = Object.entries(feeds).flatMap(([origin, entries]) => {
      const expected = encryptCounters(y, SEED, origin, period, countersOf(entries, period))
      const got = published[origin as keyof typeof published]
      return expected.flatMap((c, l) =>
        Buffer.from(ciphertextToBytes(c)).equals(Buffer.from(ciphertextToBytes(got[l]!)))
          ? []
          : [`${origin}:${COUNTER_NAMES[l]}`],
      )
    })
    expect(mismatches).toEqual(['hospital-b:failed-sign-ins'])
  })

  it('counts every incident kind of alert entries, in the order of INCIDENT_KINDS', () => {
    expect([...STATS_INCIDENT_KINDS]).toEqual([...INCIDENT_KINDS])
    // One alert of the k-th kind, k + 1 times: cells 42.. hold 1, 2, 3, … in that order.
    let prev: Uint8Array | undefined
    let seq = 0
    const alerts = INCIDENT_KINDS.flatMap((kind, k) =>
      Array.from({ length: k + 1 }, () => {
        const body = {
          incidentId: 'ab'.repeat(32),
          kind,
          origin: 'hospital-b',
          entryIds: ['hospital-b:7'],
          entryCount: 1,
          detectedAt: recorded,
          summary: `a ${kind} incident`,
        }
        const made = makeEntry('hospital-a', ++seq, prev, 'alert', body, recorded)
        prev = made.hash
        return made.entry
      }),
    )
    const counts = countersOf(alerts, period)
    const first = COUNTER_NAMES.indexOf('incidents.modified')
    expect(first).toBe(42)
    expect(counts.slice(first, first + INCIDENT_KINDS.length)).toEqual(
      INCIDENT_KINDS.map((_, k) => k + 1),
    )
    expect(counts[COUNTER_NAMES.indexOf('incidents.index-diverged')]).toBe(4)
    expect(COUNTER_NAMES.indexOf('failed-sign-ins')).toBe(42 + INCIDENT_KINDS.length)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(alerts.length)
  })

  it('the statistics tags are distinct and free of 0x00', () => {
    const tags = Object.values(STATS_TAGS)
    expect(new Set(tags).size).toBe(tags.length)
    for (const t of tags) expect(t).not.toContain('\0')
  })
})

function findCiphertext(haystack: Uint8Array, needle: Uint8Array): number {
  const at = Buffer.from(haystack).indexOf(Buffer.from(needle))
  if (at < 0) throw new Error('ciphertext not found in the bundle')
  return at
}

describe('every byte of a bundle is checked', () => {
  const net = runDkg(3)
  const bundle = makeBundle(net, ORIGINS3, '2026-11', [1, 3], undefined, [0, 17, 50])
  const bytes = encodeStatsBundle(bundle)

  it('renaming a hospital breaks every proof (the shares are bound to the group)', () => {
    const renamed = {
      ...bundle,
      hospitals: bundle.hospitals.map((h, i) => (i === 2 ? { ...h, origin: 'hospital-z' } : h)),
    }
    expect(refusal(() => verifyStatsBundle(encodeStatsBundle(renamed))).reason).toBe('share-forged')
  })

  it('property: any one changed byte is refused with a named reason, never a crash', () => {
    expect(verifyStatsBundle(bytes).totals[17]).toBe(
      [0, 1, 2].reduce((acc, i) => acc + countsFor(i)[17]!, 0),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, xor) => {
          const changed = bytes.slice()
          changed[at]! ^= xor
          const r = refusal(() => verifyStatsBundle(changed))
          expect(r.code, `byte ${at} ^ ${xor}`).toMatch(/^(FILE_INVALID|INVALID_PROOF)$/)
          expect(typeof r.reason).toBe('string')
        },
      ),
      { numRuns: 40 },
    )
  })
})
