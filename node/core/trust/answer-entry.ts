import type { FeedCut } from '../checkpoint.ts'
import { decodeEntry, type EncodedEntry, entryId } from '../entry.ts'
import { bodyProblem } from '../entry-kinds.ts'
import { verifyInclusion } from '../merkle/index.ts'
import type { AnswerEntryJson } from './answer.ts'
import { fromBase64, hashes } from './answer-fields.ts'
import type { CheckedHead } from './answer-heads.ts'
import { comparePositions, type Position } from './cursor.ts'
import { filterMismatch, type QueryFilter, type QueryScope } from './filter.ts'
import type { NetworkKeys } from './network-keys.ts'
import type { Failure, Integrity, VerifiedEntry } from './verification.ts'

/** What each entry of one answer is checked against; `last` advances entry by entry. */
export interface EntryContext {
  keys: NetworkKeys
  filter: QueryFilter
  scope: QueryScope | undefined
  heads: ReadonlyMap<string, CheckedHead>
  cutOf: (origin: string) => FeedCut | undefined
  /** The answer had a checkpoint that does not verify. */
  untrusted: boolean
  /** The previous entry (or the cursor): entries must come in strictly increasing order. */
  last: Position | undefined
  through: Position | undefined
}

/**
 * One entry of an answer: it decodes, comes in order and before the answer's end, matches
 * filter and scope, is an audit event of a member, and its inclusion proof leads to the
 * cosigned cut (`cosigned`) or to a signed head of its origin (`signed`, or `cosigned` when
 * that head extends the cut past the entry).
 */
export function checkAnswerEntry(
  item: Partial<AnswerEntryJson>,
  index: number,
  ctx: EntryContext,
): VerifiedEntry | Failure {
  const bytes = fromBase64(item?.bytes)
  let entry: EncodedEntry
  try {
    if (!bytes) throw new Error('bytes are not base64')
    entry = decodeEntry(bytes)
  } catch (err) {
    return { entryId: `#${index}`, reason: `entry does not decode: ${(err as Error).message}` }
  }
  const { origin, seq } = entry.entry
  const id = entryId(origin, seq)
  const fail = (reason: string): Failure => ({ entryId: id, reason, entry })
  const { last, through } = ctx
  if (last && comparePositions(last, entry.entry) >= 0)
    return fail('is out of (origin, seq) order, repeated, or before the cursor')
  ctx.last = entry.entry
  if (through && comparePositions(entry.entry, through) > 0)
    return fail(`comes after the answer's own end ${entryId(through.origin, through.seq)}`)
  const mismatch = filterMismatch(entry.entry, ctx.filter, ctx.scope)
  if (mismatch) return fail(mismatch)
  const invalid = bodyProblem(entry.entry)
  if (invalid) return fail(invalid)
  // A member removed since keeps its feed, frozen at the size the network cosigned: an entry
  // of it is accepted when the cosigned checkpoint covers its feed (and proves it below).
  if (!ctx.keys.ed25519Keys.has(origin) && !ctx.cutOf(origin))
    return fail(`origin ${origin} is not a member`)
  const proof = hashes(item.proof)
  const treeSize = item.treeSize
  if (!proof || typeof treeSize !== 'number' || !Number.isSafeInteger(treeSize))
    return fail('proof is malformed')
  const cut = ctx.cutOf(origin)
  let root: Uint8Array
  let integrity: Integrity
  if (cut && treeSize === cut.treeSize) {
    root = cut.root
    integrity = 'cosigned'
  } else {
    const head = ctx.heads.get(`${origin}:${treeSize}`)
    if (!head) {
      const why = ctx.untrusted ? ' (the checkpoint in the answer does not verify)' : ''
      return fail(`no valid proof root: no signed head of ${origin} at tree size ${treeSize}${why}`)
    }
    if (head.problem) return fail(head.problem)
    root = head.root
    // A head that extends the cut proves the prefix too; one below the cut (a node behind
    // the checkpoint) is vouched for by its origin alone.
    integrity = head.extendsCut && cut && seq <= cut.treeSize ? 'cosigned' : 'signed'
  }
  try {
    verifyInclusion(entry.hash, seq - 1, treeSize, proof, root)
  } catch (err) {
    return fail((err as Error).message)
  }
  return { id, entry, integrity }
}
