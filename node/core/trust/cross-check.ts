import { feedCutOf } from '../checkpoint.ts'
import { comparePositions, type Position } from './cursor.ts'
import type { Failure, QueryVerification } from './verification.ts'

/** A verified answer and who gave it, for crossCheckAnswers. */
export interface CheckedAnswer {
  node: string
  result: QueryVerification
}

/**
 * Omissions, which inclusion proofs cannot show: two verified answers to the same query must
 * hold the same entries wherever both are complete, that is for each origin up to the smaller
 * of both checkpoints' cuts and both nodes' holdings, and up to the earlier `through`. An entry
 * one node returned there and the other did not is a failure "dropped by" the other.
 */
export function crossCheckAnswers(a: CheckedAnswer, b: CheckedAnswer): Failure[] {
  const coverage = (origin: string): number => {
    const sizes = [a, b].flatMap(({ result }) => [
      result.checkpoint ? (feedCutOf(result.checkpoint.checkpoint, origin)?.treeSize ?? 0) : 0,
      result.held.get(origin) ?? 0,
    ])
    return Math.min(...sizes)
  }
  const ends = [a.result.through, b.result.through].filter((t): t is Position => t !== undefined)
  const end = ends.sort(comparePositions)[0]
  const covered = (e: Position) =>
    e.seq <= coverage(e.origin) && (end === undefined || comparePositions(e, end) <= 0)
  const failures: Failure[] = []
  const compare = (from: CheckedAnswer, to: CheckedAnswer) => {
    // An entry `to` sent but that failed verification is already reported as such.
    const has = new Set([
      ...to.result.verified.map((v) => v.id),
      ...to.result.failures.map((f) => f.entryId),
    ])
    for (const v of from.result.verified) {
      if (!has.has(v.id) && covered(v.entry.entry)) {
        failures.push({
          entryId: v.id,
          reason: `dropped by ${to.node}: ${from.node} returned it, and both nodes' cosigned checkpoints cover it`,
          entry: v.entry,
        })
      }
    }
  }
  compare(a, b)
  compare(b, a)
  return failures
}
