import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  type CheckedPage,
  type CompletenessStatement,
  checkAnswerCompleteness,
  checkNotOlder,
  describeCompleteness,
  type Failure,
  type NetworkKeys,
} from '../../node/core/trust/index.ts'

/*
 * The completeness verdict of a patient's trail for query, export and verify-bundle
 * (docs/query.md, "What a proof can show"): after every page verified, either the statement
 * ("complete: every access to patient P recorded up to checkpoint T …"), a failure naming
 * what is missing or wrong, or "not proven" when the node sent no proof.
 */

export interface CompletenessVerdict {
  /** The statement's lines, or the "not proven" line. */
  lines: string[]
  statement?: CompletenessStatement
  /** A proof that does not hold, or an older checkpoint presented as the latest. */
  failures: Failure[]
  /** No proof to check (none sent, or no checkpoint yet): refused when completeness is required. */
  unproven: boolean
}

/**
 * Checks the collected pages' completeness for `patientId`; `known`: the newest checkpoint
 * the user verified before (none for an offline bundle without --since), every page's
 * checkpoint must be at least as new.
 */
export function completenessVerdict(
  keys: NetworkKeys,
  patientId: string,
  pages: readonly CheckedPage[],
  known: CosignedCheckpoint | undefined,
): CompletenessVerdict {
  const failures: Failure[] = []
  for (const page of pages) {
    const c = page.result.checkpoint
    if (!c) continue
    try {
      checkNotOlder(known, c)
    } catch (err) {
      failures.push({ entryId: 'checkpoint', reason: (err as Error).message })
      return { lines: [], failures, unproven: false }
    }
  }
  try {
    const statement = checkAnswerCompleteness({ keys, patientId, pages })
    return { lines: describeCompleteness(statement), statement, failures, unproven: false }
  } catch (err) {
    if (!isEhrlogError(err, 'INVALID_PROOF')) throw err
    const reason = err.details.reason
    if (reason === 'proof-missing' || reason === 'no-checkpoint')
      return { lines: [err.message], failures, unproven: true }
    failures.push({ entryId: 'completeness', reason: err.message })
    return { lines: [], failures, unproven: false }
  }
}
