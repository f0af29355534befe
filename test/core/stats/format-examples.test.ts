import { bytesToHex, concatBytes, hexToBytes } from '@noble/curves/utils.js'
import { describe, expect, it } from 'vitest'
import { counterNonce, encrypt } from '../../../node/core/stats/elgamal.ts'
import {
  assembleStatsBundle,
  COUNTER_COUNT,
  COUNTER_NAMES,
  combineDealings,
  type DecryptionShare,
  decodeKeyAnchors,
  encodeKeyAnchors,
  encodeStatsBundle,
  encryptCounters,
  G,
  type GroupPoint,
  makeDecryptionShare,
  mulSecret,
  parseStatsEntryBody,
  pointFromBytes,
  publicKeyOf,
  STATS_TAGS,
  type StatsKey,
  scalarToBytes,
  sharePublicKey,
  statsContext,
  sumVectors,
  verifyDealing,
  verifyDecryptionShare,
  verifyStatsBundle,
} from '../../../node/core/stats/index.ts'
import { type DocExample, hexFields, readFormatExamples, tableRows } from '../format-doc.ts'

// docs/format.md, "Private network statistics": every worked example, read from the document
// and recomputed (or, for the parts made with a random nonce, verified) with the code.
const examples = readFormatExamples()

function example(name: string): DocExample {
  const found = examples.get(name)
  if (!found) throw new Error(`docs/format.md has no example ${name}`)
  return found
}

function fieldsOf(name: string): (label: string) => string {
  const fields = hexFields(example(name))
  return (label) => {
    const value = fields.get(label)
    if (!value) throw new Error(`example ${name} has no hex for ${JSON.stringify(label)}`)
    return value
  }
}

const point = (hex: string): GroupPoint => {
  const p = pointFromBytes(hexToBytes(hex))
  if (!p) throw new Error(`${hex} is not a ristretto255 element`)
  return p
}
const utf8 = new TextEncoder()
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i)

/** The example dealing (coefficients 5 and 11) as the whole 2-of-3 key. */
/** The failed sign-ins' cell (51 in table version 2), the example's second published cell. */
const SIGN_INS = COUNTER_NAMES.indexOf('failed-sign-ins')

const exampleKey: StatsKey = { n: 3, k: 2, commitments: [mulSecret(G, 5n), mulSecret(G, 11n)] }

describe('docs/format.md private statistics examples, recomputed', () => {
  it('tags: exactly the code’s, each with its UTF-8 hex', () => {
    const rows = tableRows(example('stats-tags'))
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.values(STATS_TAGS).sort())
    for (const [tag, hex] of rows) expect(hex).toBe(bytesToHex(utf8.encode(tag!)))
  })

  it('counter table rows name the cells of COUNTER_NAMES', () => {
    const rows = tableRows(example('stats-counters'))
    expect(rows.length).toBeGreaterThan(5)
    for (const [cell, name] of rows) expect(COUNTER_NAMES[Number(cell)]).toBe(name)
    expect(COUNTER_COUNT).toBe(52)
    expect(rows.at(-1)).toEqual(['51', 'failed-sign-ins'])
  })

  it('dealing: commitments of 5 and 11, a proof that verifies, the three shares', () => {
    const field = fieldsOf('stats-dealing')
    expect(field('A0')).toBe(bytesToHex(exampleKey.commitments[0]!.toBytes()))
    expect(field('A1')).toBe(bytesToHex(exampleKey.commitments[1]!.toBytes()))
    const params = { n: 3, k: 2, context: utf8.encode('ehrlog example') }
    const dealing = {
      dealer: 1,
      commitments: [hexToBytes(field('A0')), hexToBytes(field('A1'))],
      proof: hexToBytes(field('proof')),
    }
    expect(() => verifyDealing(params, dealing)).not.toThrow()
    expect(() => verifyDealing({ ...params, context: utf8.encode('other') }, dealing)).toThrow()
    for (const j of [1, 2, 3]) {
      expect(field(`share ${j}`)).toBe(bytesToHex(scalarToBytes(5n + 11n * BigInt(j))))
    }
  })

  it('ciphertext: the nonce from the seed, and C1 || C2 for a count of 3', () => {
    const field = fieldsOf('stats-ciphertext')
    const y = mulSecret(G, 42n)
    expect(field('Y')).toBe(bytesToHex(y.toBytes()))
    const r = counterNonce(SEED, 'hospital-a', '2026-11', 0)
    expect(field('r')).toBe(bytesToHex(scalarToBytes(r)))
    const c = encrypt(y, 3, r)
    expect(field('C1')).toBe(bytesToHex(c.c1.toBytes()))
    expect(field('C2')).toBe(bytesToHex(c.c2.toBytes()))
  })

  it('share: X1 and D recomputed, the proof verifies, and a changed D does not', () => {
    const field = fieldsOf('stats-share')
    const c1 = point(fieldsOf('stats-ciphertext')('C1'))
    const x1 = sharePublicKey(exampleKey, 1)
    expect(field('X1')).toBe(bytesToHex(x1.toBytes()))
    expect(field('D')).toBe(bytesToHex(mulSecret(c1, 16n).toBytes()))
    const share: DecryptionShare = {
      member: 1,
      shares: [point(field('D'))],
      proof: hexToBytes(field('proof')),
    }
    const context = new Uint8Array(32)
    expect(verifyDecryptionShare(context, x1, [c1], share)).toBe(true)
    const forged = { ...share, shares: [share.shares[0]!.add(G)] }
    expect(verifyDecryptionShare(context, x1, [c1], forged)).toBe(false)
    // The code makes proofs of the same form.
    const fresh = makeDecryptionShare(context, 1, scalarToBytes(16n), [c1])
    expect(verifyDecryptionShare(context, x1, [c1], fresh)).toBe(true)
  })

  it('bundle: the header, the context digest, the length and the totals', () => {
    const field = fieldsOf('stats-bundle-header')
    const y = publicKeyOf(exampleKey)
    const counts = (a: number, b: number) =>
      Array.from({ length: COUNTER_COUNT }, (_, l) => (l === 0 ? a : l === SIGN_INS ? b : 0))
    const hospitals = [
      { origin: 'hospital-a', counts: counts(3, 10) },
      { origin: 'hospital-b', counts: counts(4, 20) },
    ].map((h) => ({
      origin: h.origin,
      ciphertexts: encryptCounters(y, SEED, h.origin, '2026-11', h.counts),
      anchor: new Uint8Array(0),
    }))
    const published = [0, SIGN_INS]
    const sum = sumVectors(
      hospitals.map((h) => h.ciphertexts),
      COUNTER_COUNT,
    )
    const context = statsContext(
      '2026-11',
      exampleKey,
      hospitals.map((h) => h.origin),
      sum,
      published,
    )
    expect(field('context')).toBe(bytesToHex(context))
    const shares = [1, 3].map((j) =>
      makeDecryptionShare(
        context,
        j,
        scalarToBytes(5n + 11n * BigInt(j)),
        published.map((l) => sum[l]!.c1),
      ),
    )
    const bytes = encodeStatsBundle(
      assembleStatsBundle({ period: '2026-11', key: exampleKey, hospitals, published, shares }),
    )
    const header = concatBytes(
      ...['magic', 'period', 'cells', 'n k', 'commitments', 'hospitals'].map((l) =>
        hexToBytes(field(l)),
      ),
    )
    expect(bytesToHex(bytes.subarray(0, header.length))).toBe(bytesToHex(header))
    expect(bytes.length).toBe(10_578)
    const totals = verifyStatsBundle(bytes, { period: '2026-11', publicKey: y.toBytes() }).totals
    expect([totals[0], totals[SIGN_INS], totals[1]]).toEqual([7, 30, undefined])
  })

  it('key anchors: the dealings verify under the network id and generation, and sum to the key', () => {
    const field = fieldsOf('stats-key-anchors')
    const context = utf8.encode(`${'ab'.repeat(32)}/1`)
    expect(field('context')).toBe(bytesToHex(context))
    const params = { n: 3, k: 2, context }
    const dealings = [1, 2].map((d) => ({
      dealer: d,
      commitments: [hexToBytes(field(`dealer ${d} A0`)), hexToBytes(field(`dealer ${d} A1`))],
      proof: hexToBytes(field(`dealer ${d} proof`)),
    }))
    expect(field('dealer 1 A0')).toBe(bytesToHex(mulSecret(G, 5n).toBytes()))
    expect(field('dealer 2 A1')).toBe(bytesToHex(mulSecret(G, 13n).toBytes()))
    for (const d of dealings) expect(() => verifyDealing(params, d)).not.toThrow()
    // Generation 2, or another network, and the proofs fail.
    expect(() =>
      verifyDealing({ ...params, context: utf8.encode(`${'ab'.repeat(32)}/2`) }, dealings[0]!),
    ).toThrow()
    const key = combineDealings(params, dealings)
    expect(field('C0')).toBe(bytesToHex(mulSecret(G, 12n).toBytes()))
    expect(field('C1')).toBe(bytesToHex(mulSecret(G, 24n).toBytes()))
    expect(key.commitments.map((c) => bytesToHex(c.toBytes()))).toEqual([field('C0'), field('C1')])
    const body = {
      type: 'dkg-key',
      generation: 1,
      n: 3,
      k: 2,
      qualified: [1, 2],
      commitments: [field('C0'), field('C1')],
    }
    expect(parseStatsEntryBody(body)).toEqual(body)
    // The trailer's framing as the text gives it.
    const trailer = encodeKeyAnchors([new Uint8Array(1000), new Uint8Array(1200)])
    expect(bytesToHex(trailer.subarray(0, 5))).toBe('02000003e8')
    expect(bytesToHex(trailer.subarray(1005, 1009))).toBe('000004b0')
    expect(decodeKeyAnchors(trailer)!.map((a) => a.length)).toEqual([1000, 1200])
    expect(() => decodeKeyAnchors(trailer.subarray(0, 1500))).toThrow(/end inside anchor 1/)
  })
})
