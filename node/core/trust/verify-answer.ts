import { type FeedCut, feedCutOf } from '../checkpoint.ts'
import { parseEntryId } from '../entry.ts'
import type { AnswerEntryJson, QueryAnswerJson } from './answer.ts'
import { checkAnswerCheckpoint, type VerifiedCheckpoints } from './answer-checkpoint.ts'
import { checkAnswerEntry, type EntryContext } from './answer-entry.ts'
import { heldOf } from './answer-fields.ts'
import { checkAnswerHeads } from './answer-heads.ts'
import { decodeCursor } from './cursor.ts'
import type { QueryFilter, QueryScope } from './filter.ts'
import type { MembershipHistory } from './membership-history.ts'
import type { NetworkKeys } from './network-keys.ts'
import type { Failure, QueryVerification, VerifiedEntry } from './verification.ts'

/*
 * Verified queries (docs/query.md): the client verifies a node's answer against its own
 * membership. Pure: the patient's browser runs it too, with node:crypto's SHA-256 and Ed25519
 * verification taken from @noble there (node/portal/browser/node-crypto.ts).
 */

/** What an answer is checked against: the verifier's keys and what it asked for. */
export interface AnswerCheck {
  /** The keys of the newest membership version the verifier holds. */
  keys: NetworkKeys
  /**
   * The verifier's membership history (pinned genesis + verified changes): the checkpoint is
   * verified under the keys of the version it names, and the heads and entries under those
   * same keys. Absent: `keys` must be of the checkpoint's version.
   */
  history?: MembershipHistory
  filter: QueryFilter
  scope?: QueryScope
  /** The cursor the client sent: every entry must come after it. */
  cursor?: string
  /** Checkpoints already verified under these same keys; absent: no memo. */
  verifiedCheckpoints?: VerifiedCheckpoints
}

/**
 * Verifies a query answer without trusting the node that sent it: the checkpoint's aggregate
 * signature (quorum of the members), each head's Ed25519 signature and its consistency with
 * the checkpoint, each entry's inclusion proof, order, filter and scope. Never throws for a
 * bad answer: each bad entry is a named failure. Entries at or below the checkpoint's cut
 * must be proven against the cut; above it, against a head that extends the cut.
 */
export function verifyQueryAnswer(answer: unknown, check: AnswerCheck): QueryVerification {
  const a = (
    typeof answer === 'object' && answer !== null ? answer : {}
  ) as Partial<QueryAnswerJson>
  const failures: Failure[] = []
  const verified: VerifiedEntry[] = []
  const { cosigned, cosignedBy, untrusted, keys } = checkAnswerCheckpoint(
    a.checkpoint,
    check.keys,
    check.verifiedCheckpoints,
    failures,
    check.history,
  )
  const cutOf = (origin: string): FeedCut | undefined =>
    cosigned && feedCutOf(cosigned.checkpoint, origin)
  const context: EntryContext = {
    keys,
    filter: check.filter,
    scope: check.scope,
    heads: checkAnswerHeads(
      a.heads,
      keys,
      cutOf,
      failures,
      check.history?.at(keys.version + 1)?.keys.ed25519Keys,
    ),
    cutOf,
    untrusted,
    last: check.cursor ? decodeCursor(check.cursor) : undefined,
    through: a.through === undefined ? undefined : parseEntryId(String(a.through)),
  }
  if (!Array.isArray(a.entries)) failures.push({ entryId: 'answer', reason: 'has no entry list' })
  const entries: Partial<AnswerEntryJson>[] = Array.isArray(a.entries) ? a.entries : []
  entries.forEach((item, i) => {
    const outcome = checkAnswerEntry(item, i, context)
    if ('reason' in outcome) failures.push(outcome)
    else verified.push(outcome)
  })
  const { through } = context
  return { verified, failures, cosignedBy, checkpoint: cosigned, through, held: heldOf(a.held) }
}
