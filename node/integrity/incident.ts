import type { Incident } from '../alerts/index.ts'
import type { Problem, ProblemKind } from '../store/index.ts'

/**
 * What the integrity service found, for the alerts (node/alerts Incident has this shape).
 * - modified: an entry or a signed head of the replica was changed, reordered, inserted, or no
 *   longer gives the signed root;
 * - deleted: entries are missing, inside the feed or at its tail (truncated);
 * - equivocation: the origin signed two different entries for one seq (or two roots for one
 *   size); the two signed versions are the proof, in `evidence`;
 * - index-diverged: this node's per-patient index of an origin did not match that origin's
 *   entries in the replica (IndexView.check); it was rebuilt from them (`repaired.local`);
 * - rotated-out-key: a batch whose tree head a retired key of its origin signed, past the cut
 *   that retired it, was refused (retired-key.ts); the signed head is the evidence.
 */
export type IntegrityIncidentKind =
  | 'modified'
  | 'deleted'
  | 'equivocation'
  | 'index-diverged'
  | 'rotated-out-key'

/**
 * An alert incident (node/alerts) of one of the integrity kinds. `key` tells incidents with
 * the same entries apart: for modified/deleted a fingerprint of the damaged records (a second
 * tampering after a repair is a new incident); for an equivocation the origin and seq (or
 * tree size), the same on every node. `evidence` holds the problems as the scrub named them,
 * the trusted heads and the repair's sources.
 */
export type IntegrityIncident = Omit<Incident, 'kind' | 'key' | 'evidence'> & {
  evidence: Record<string, unknown>
} & (
    | { kind: 'modified' | 'deleted'; key?: string }
    | { kind: 'equivocation' | 'index-diverged' | 'rotated-out-key'; key: string }
  )

const INCIDENT_KIND: Record<ProblemKind, 'modified' | 'deleted' | undefined> = {
  modified: 'modified',
  reordered: 'modified',
  inserted: 'modified',
  'bad-signature': 'modified',
  'tree-node': 'modified',
  'root-mismatch': 'modified',
  deleted: 'deleted',
  truncated: 'deleted',
  // Names no origin (the feed record itself is unreadable): logged, not reported per origin.
  'unreadable-feed': undefined,
}

/** One origin's problems of one incident kind. */
export interface ProblemGroup {
  kind: 'modified' | 'deleted'
  origin: string
  problems: Problem[]
}

/** Groups a scrub's problems per origin into at most one 'modified' and one 'deleted' group. */
export function groupProblems(problems: readonly Problem[]): ProblemGroup[] {
  const groups = new Map<string, ProblemGroup>()
  for (const p of problems) {
    const kind = INCIDENT_KIND[p.kind]
    if (!kind) continue
    const id = `${p.origin}\0${kind}`
    let group = groups.get(id)
    if (!group) {
      group = { kind, origin: p.origin, problems: [] }
      groups.set(id, group)
    }
    group.problems.push(p)
  }
  return [...groups.values()].sort((a, b) =>
    a.origin === b.origin ? a.kind.localeCompare(b.kind) : a.origin.localeCompare(b.origin),
  )
}

/** Entry ids of a group, by seq, without repeats. */
export function entryIdsOf(problems: readonly Problem[]): string[] {
  const bySeq = new Map<number, string>()
  for (const p of problems) if (p.entryId && p.seq !== undefined) bySeq.set(p.seq, p.entryId)
  return [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => id)
}

/** The seq span of a group: its entries' seqs and its heads' tree sizes. */
export function seqRangeOf(problems: readonly Problem[]): { seqFrom: number; seqTo: number } {
  let seqFrom = Number.MAX_SAFE_INTEGER
  let seqTo = 0
  for (const p of problems) {
    const at = p.seq ?? p.treeSize
    if (at === undefined) continue
    seqFrom = Math.min(seqFrom, at)
    seqTo = Math.max(seqTo, at)
  }
  return seqTo === 0 ? { seqFrom: 1, seqTo: 1 } : { seqFrom, seqTo }
}

/** A sentence naming what was found, e.g. "2 entries of hospital-a were modified: …". */
export function summaryOf(group: ProblemGroup, self: string): string {
  // Records no signed head covers were inserted, not modified: named apart.
  const inserted = entryIdsOf(group.problems.filter((p) => p.kind === 'inserted'))
  const ids = entryIdsOf(group.problems).filter((id) => !inserted.includes(id))
  const heads = group.problems.filter((p) => p.seq === undefined && p.treeSize !== undefined)
  const verb = group.kind === 'modified' ? 'modified' : 'deleted'
  const parts: string[] = []
  if (ids.length > 0) {
    const shown =
      ids.slice(0, 10).join(', ') + (ids.length > 10 ? ` and ${ids.length - 10} more` : '')
    parts.push(
      `${ids.length} ${ids.length === 1 ? 'entry' : 'entries'} of ${group.origin} ${ids.length === 1 ? 'was' : 'were'} ${verb} in ${self}'s replica: ${shown}`,
    )
  }
  if (inserted.length > 0) {
    const one = inserted.length === 1
    parts.push(
      `${inserted.length} ${one ? 'record was' : 'records were'} inserted into ${group.origin}'s feed in ${self}'s replica (covered by no head ${group.origin} signed): ${inserted.slice(0, 10).join(', ')}${inserted.length > 10 ? ` and ${inserted.length - 10} more` : ''}`,
    )
  }
  // Stored Merkle nodes that the entries no longer give: entries from there on were rewritten
  // (re-chained, so no link broke); the repair names each one it has to restore.
  const nodes = group.problems.filter((p) => p.kind === 'tree-node' && p.seq !== undefined)
  if (nodes.length > 0) {
    const from = Math.min(...nodes.map((p) => p.seq!))
    parts.push(
      `the tree nodes stored with ${group.origin}:${from} do not match the entries: entries from there on may have been rewritten`,
    )
  }
  if (heads.length > 0) {
    const sizes = heads
      .slice(0, 5)
      .map((p) => p.treeSize)
      .join(', ')
    parts.push(
      `${heads.length} signed tree ${heads.length === 1 ? 'head' : 'heads'} of ${group.origin} (size ${sizes}) ${heads.length === 1 ? 'does' : 'do'} not verify`,
    )
  }
  return `${parts.join('; ')}.`
}
