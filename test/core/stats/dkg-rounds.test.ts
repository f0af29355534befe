import { describe, expect, it } from 'vitest'
import {
  combineDealings,
  combineShares,
  type DkgParams,
  type DkgRoundsInput,
  deal,
  dkgRounds,
  dkgStart,
  G,
  mulSecret,
  parseStatsEntryBody,
  publicKeyOf,
  scalarFromBytes,
  scalarToBytes,
  sharePublicKey,
} from '../../../node/core/stats/index.ts'

// The complaint and answer rounds, decided from the feeds' entries alone (dkg-rounds.ts).
const W = 1000
const T = 1_700_000_000_000
const params: DkgParams = { n: 4, k: 3, context: new TextEncoder().encode('rounds test') }

function dealers() {
  return [1, 2, 3, 4].map((i) => deal(params, i))
}

function input(out: ReturnType<typeof dealers>, at = (i: number) => T + i * 10): DkgRoundsInput {
  return {
    dealings: out.map((d) => ({
      member: d.dealing.dealer,
      recordedMs: at(d.dealing.dealer),
      dealing: d.dealing,
    })),
    complaints: [],
    answers: [],
  }
}

describe('DKG complaint and answer rounds', () => {
  it('t0 is the k-th earliest dealing; the outcome waits for the complaint window', () => {
    const out = dealers()
    const i = input(out)
    expect(dkgStart(params, i)).toBe(T + 30)
    expect(dkgStart(params, { ...i, dealings: i.dealings.slice(0, 2) })).toBeUndefined()
    expect(dkgRounds(params, W, i, T + 2000).phase).toBe('open')
    const done = dkgRounds(params, W, i, T + 30 + 2.5 * W)
    expect(done.phase).toBe('decided')
    if (done.phase !== 'decided') return
    expect(done.qualified.map((d) => d.dealer)).toEqual([1, 2, 3, 4])
  })

  it('a late dealing (a member down) is left out; a dealing in another feed does not count', () => {
    const out = dealers()
    const i = input(out, (d) => (d === 4 ? T + 5000 : T + d))
    i.dealings.push({ member: 1, recordedMs: T, dealing: { ...out[3]!.dealing } })
    const done = dkgRounds(params, W, i, T + 10_000)
    if (done.phase !== 'decided') throw new Error('not decided')
    expect(done.qualified.map((d) => d.dealer)).toEqual([1, 2, 3])
  })

  it('a complaint answered with the right share keeps the dealer; the complainer uses it', () => {
    const out = dealers()
    const i = input(out)
    i.complaints.push({ member: 3, recordedMs: T + 1500, dealer: 2, complainer: 3 })
    // Unanswered so far: still open after 2.5 W, decided (dealer out) after 3.5 W.
    expect(dkgRounds(params, W, i, T + 30 + 2.6 * W).phase).toBe('open')
    const unanswered = dkgRounds(params, W, i, T + 30 + 3.5 * W)
    if (unanswered.phase !== 'decided') throw new Error('not decided')
    expect(unanswered.qualified.map((d) => d.dealer)).toEqual([1, 3, 4])
    expect(unanswered.disqualified).toEqual([{ dealer: 2, reason: 'unanswered' }])
    const share = out[1]!.shares.get(3)!
    i.answers.push({ member: 2, recordedMs: T + 2200, dealer: 2, complainer: 3, share })
    const answered = dkgRounds(params, W, i, T + 30 + 2.5 * W)
    if (answered.phase !== 'decided') throw new Error('not decided')
    expect(answered.qualified.map((d) => d.dealer)).toEqual([1, 2, 3, 4])
    expect(answered.complaints).toEqual([{ dealer: 2, member: 3, revealed: share }])
    // Every member's combined share still matches the key's share public key.
    const key = combineDealings(params, answered.qualified)
    for (const j of [1, 2, 3, 4]) {
      const x = combineShares(out.map((d) => d.shares.get(j)!))
      expect(mulSecret(G, scalarFromBytes(x)!).equals(sharePublicKey(key, j))).toBe(true)
    }
    expect(publicKeyOf(key).is0()).toBe(false)
  })

  it('a bad answer, a late answer or a late complaint: decided by the windows', () => {
    const out = dealers()
    const bad = input(out)
    bad.complaints.push({ member: 3, recordedMs: T + 1500, dealer: 2, complainer: 3 })
    const wrong = scalarToBytes(scalarFromBytes(out[1]!.shares.get(3)!)! + 1n)
    bad.answers.push({ member: 2, recordedMs: T + 2200, dealer: 2, complainer: 3, share: wrong })
    const b = dkgRounds(params, W, bad, T + 5000)
    if (b.phase !== 'decided') throw new Error('not decided')
    expect(b.disqualified).toEqual([{ dealer: 2, reason: 'bad-answer' }])

    const late = input(out)
    late.complaints.push({ member: 3, recordedMs: T + 1500, dealer: 2, complainer: 3 })
    const right = out[1]!.shares.get(3)!
    late.answers.push({
      member: 2,
      recordedMs: T + 30 + 3 * W + 1,
      dealer: 2,
      complainer: 3,
      share: right,
    })
    const l = dkgRounds(params, W, late, T + 10_000)
    if (l.phase !== 'decided') throw new Error('not decided')
    expect(l.qualified.map((d) => d.dealer)).toEqual([1, 3, 4])

    // A complaint after 2 W, or one signed into another member's feed, is not counted.
    const ignored = input(out)
    ignored.complaints.push({ member: 3, recordedMs: T + 30 + 2 * W + 1, dealer: 2, complainer: 3 })
    ignored.complaints.push({ member: 1, recordedMs: T + 100, dealer: 2, complainer: 3 })
    const ig = dkgRounds(params, W, ignored, T + 10_000)
    if (ig.phase !== 'decided') throw new Error('not decided')
    expect(ig.qualified.map((d) => d.dealer)).toEqual([1, 2, 3, 4])
  })

  it('complaint and answer entry bodies are checked field by field', () => {
    const ok = parseStatsEntryBody({
      type: 'dkg-complaint',
      generation: 1,
      dealer: 2,
      complainer: 3,
    })
    expect(ok).toMatchObject({ dealer: 2, complainer: 3 })
    expect(() =>
      parseStatsEntryBody({ type: 'dkg-complaint', generation: 1, dealer: 2, complainer: 2 }),
    ).toThrow(/does not complain of itself/)
    const answer = {
      type: 'dkg-answer',
      generation: 1,
      dealer: 2,
      complainer: 3,
      share: '00'.repeat(32),
      box: '11'.repeat(60),
    }
    expect(parseStatsEntryBody(answer)).toEqual(answer)
    expect(() => parseStatsEntryBody({ ...answer, box: '11'.repeat(59) })).toThrow(/box must be 60/)
    expect(() => parseStatsEntryBody({ ...answer, extra: 1 })).toThrow(/unknown field extra/)
  })
})
