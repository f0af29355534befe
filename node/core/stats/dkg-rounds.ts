import {
  type Complaint,
  type Dealing,
  type DkgParams,
  qualifiedDealings,
  resolveComplaint,
  verifyDealing,
} from './dkg.ts'

/*
 * The complaint and answer rounds of the key generation, decided from the feeds alone
 * (docs/architecture.md, "A key no one holds"). Every member reads the same entries of one
 * generation from the members' feeds: dealings, complaints and answers, each with the origin
 * that signed it into its feed and the time it recorded. The rounds are windows of W ms
 * from t0, the recorded time of the k-th earliest dealing (so fewer than k members cannot
 * move it by back-dating their own entries):
 *
 *   deal       a dealing counts if recorded by t0 + W;
 *   complain   a complaint (dealer, complainer) counts if recorded by t0 + 2W, signed by the
 *              complainer's own feed, against a dealing that counts;
 *   answer     the dealer's first answer to it (the share in the clear) counts if recorded by
 *              t0 + 3W.
 *
 * A dealer with a counted complaint and no counted answer, or an answer whose share does not
 * check (resolveComplaint), is disqualified. The outcome is final once no counted entry can
 * still come: from t0 + 2W + W/2 when every counted complaint is answered, else from
 * t0 + 3W + W/2 (the half window lets entries recorded just before a deadline travel). An
 * entry recorded in time that reaches a member after it decided can make members disagree:
 * their `dkg-key` entries then differ, which every member reports.
 */

/** One stats entry of the generation, as a feed holds it. */
export interface RoundEntry {
  /** The feed it is in: its member index (1..n) in the generation's membership. */
  member: number
  recordedMs: number
}

export interface DkgRoundsInput {
  dealings: Array<RoundEntry & { dealing: Dealing }>
  complaints: Array<RoundEntry & { dealer: number; complainer: number }>
  answers: Array<RoundEntry & { dealer: number; complainer: number; share: Uint8Array }>
}

export type DkgRoundsState =
  | { phase: 'dealing'; t0?: number }
  | {
      /** Complaints and answers may still come; `decideAt` is the earliest final time. */
      phase: 'open'
      t0: number
      /** The counted dealings so far, and the counted complaints (with answers if any). */
      dealings: Dealing[]
      complaints: Complaint[]
      decideAt: number
      /** Until when a member may still complain, and a dealer still answer. */
      complainBy: number
      answerBy: number
    }
  | {
      phase: 'decided'
      t0: number
      qualified: Dealing[]
      complaints: Complaint[]
      /** The counted dealers left out, and why (a late dealing is not counted, so not listed). */
      disqualified: Array<{ dealer: number; reason: 'unanswered' | 'bad-answer' | 'invalid' }>
    }

/** The recorded time of the k-th earliest dealing signed by its own dealer, or undefined. */
export function dkgStart(params: DkgParams, input: DkgRoundsInput): number | undefined {
  const times = input.dealings
    .filter((d) => d.member === d.dealing.dealer)
    .map((d) => d.recordedMs)
    .sort((a, b) => a - b)
  return times.length >= params.k ? times[params.k - 1] : undefined
}

/** Where the rounds stand at `nowMs` (local time), from the generation's entries. */
export function dkgRounds(
  params: DkgParams,
  windowMs: number,
  input: DkgRoundsInput,
  nowMs: number,
): DkgRoundsState {
  const t0 = dkgStart(params, input)
  if (t0 === undefined) return { phase: 'dealing' }
  const dealings = input.dealings
    .filter((d) => d.member === d.dealing.dealer && d.recordedMs <= t0 + windowMs)
    .map((d) => d.dealing)
  const dealt = new Set(dealings.map((d) => d.dealer))
  const complaints: Complaint[] = []
  const seen = new Set<string>()
  for (const c of [...input.complaints].sort((a, b) => a.recordedMs - b.recordedMs)) {
    const id = `${c.dealer}/${c.complainer}`
    if (c.member !== c.complainer || c.recordedMs > t0 + 2 * windowMs || !dealt.has(c.dealer))
      continue
    if (c.dealer === c.complainer || seen.has(id)) continue
    seen.add(id)
    const answer = input.answers
      .filter(
        (a) =>
          a.member === c.dealer &&
          a.dealer === c.dealer &&
          a.complainer === c.complainer &&
          a.recordedMs <= t0 + 3 * windowMs,
      )
      .sort((a, b) => a.recordedMs - b.recordedMs)[0]
    complaints.push({
      dealer: c.dealer,
      member: c.complainer,
      ...(answer ? { revealed: answer.share } : {}),
    })
  }
  const allAnswered = complaints.every((c) => c.revealed !== undefined)
  const decideAt = t0 + (allAnswered ? 2.5 : 3.5) * windowMs
  if (nowMs < decideAt) {
    return {
      phase: 'open',
      t0,
      dealings,
      complaints,
      decideAt,
      complainBy: t0 + 2 * windowMs,
      answerBy: t0 + 3 * windowMs,
    }
  }
  const qualified = qualifiedDealings(params, dealings, complaints)
  const kept = new Set(qualified.map((d) => d.dealer))
  const disqualified = [...dealt]
    .filter((d) => !kept.has(d))
    .sort((a, b) => a - b)
    .map((dealer) => {
      const against = complaints.filter((c) => c.dealer === dealer)
      const dealing = dealings.find((d) => d.dealer === dealer)!
      let reason: 'unanswered' | 'bad-answer' | 'invalid' = 'invalid'
      try {
        verifyDealing(params, dealing)
        if (against.some((c) => c.revealed === undefined)) reason = 'unanswered'
        else if (
          against.some(
            (c) => resolveComplaint(params, dealing, c.member, c.revealed) === 'dealer-faulty',
          )
        )
          reason = 'bad-answer'
      } catch {
        // a dealing that does not verify (or twice from one dealer: an equivocation)
      }
      return { dealer, reason }
    })
  return { phase: 'decided', t0, qualified, complaints, disqualified }
}
