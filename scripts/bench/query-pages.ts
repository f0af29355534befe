// The pages of a trail after the first, for the query benchmark's completeness check.
import type { Checkpoint } from '../../node/core/checkpoint.ts'
import type {
  CheckedPage,
  QueryAnswerJson,
  QueryVerification,
} from '../../node/core/trust/index.ts'

/**
 * The answer's later pages (its `next` cursors), each verified once: the completeness proof
 * of a checkpoint covers every entry of the patient up to its cut, so a client checks it
 * against all the pages. On a fresh store the target's trail is one page; on a kept store
 * (QUERY_STORE_DIR) every earlier run's queries appended the target's own audit events to
 * the answering node's feed, and the trail at the checkpoint is longer than one page. Checking
 * the first page alone then fails (X of the patient's entries at hospital-d are missing):
 * the benchmark's own fault, not the index's (docs/performance.md, session 9).
 */
export async function laterPages(
  first: QueryAnswerJson,
  ask: (cursor: string) => Promise<QueryAnswerJson>,
  verify: (answer: QueryAnswerJson) => QueryVerification,
): Promise<CheckedPage[]> {
  const pages: CheckedPage[] = []
  for (let next = first.next; next !== undefined; ) {
    const answer = await ask(next)
    const result = verify(answer)
    if (result.failures.length > 0)
      throw new Error(`a later page fails: ${JSON.stringify(result.failures.slice(0, 2))}`)
    pages.push({ answer, result })
    next = answer.next
  }
  return pages
}

/** Entries of `pages` at or before the checkpoint's cut: what the completeness proof counts. */
export function entriesInCut(pages: readonly CheckedPage[], checkpoint: Checkpoint): number {
  const cut = new Map(checkpoint.feeds.map((f) => [f.origin, f.treeSize]))
  let n = 0
  for (const { result } of pages)
    for (const v of result.verified) {
      const { origin, seq } = v.entry.entry
      if (seq <= (cut.get(origin) ?? 0)) n++
    }
  return n
}
