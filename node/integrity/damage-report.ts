import { createHash } from 'node:crypto'
import { bytesEqual, toHex } from '../core/hex.ts'
import type { Problem, ScrubView } from '../store/index.ts'
import type { TrustedCuts } from './checkpoint-trust.ts'
import {
  entryIdsOf,
  type IntegrityIncident,
  type ProblemGroup,
  seqRangeOf,
  summaryOf,
} from './incident.ts'
import type { FeedRepairOutcome } from './repairer.ts'

/** The damaged records of a group as the scrub saw them, before any repair. */
export interface DamageSnapshot {
  /**
   * The problems, the records' stored values and the feed's repair count: the same damage seen
   * by the next scrub has the same fingerprint; a new tampering after a repair does not.
   */
  fingerprint: string
  /** Sealed values of the problems' entry records, by seq (undefined: absent). */
  values: Map<number, Buffer | undefined>
}

export async function snapshotDamage(
  store: ScrubView,
  group: ProblemGroup,
): Promise<DamageSnapshot> {
  const named = group.problems.flatMap((p) => (p.seq === undefined ? [] : [p.seq]))
  // Stale tree nodes at a seq: entries from there on may have been rewritten and re-chained
  // (nothing else names them). Their values now let the report name each one that a repair,
  // by this scrub or any other path (sync), later replaced with other bytes.
  const suspects = await suspectSeqs(store, group, named)
  const seqs = [...new Set([...named, ...suspects])]
  const sizes = group.problems.flatMap((p) =>
    p.seq === undefined && p.treeSize !== undefined ? [p.treeSize] : [],
  )
  const values = await store.rawRecords(group.origin, seqs, sizes)
  const hash = createHash('sha256').update(
    `${group.kind}\0${group.origin}\0${await store.repairCount(group.origin)}\0`,
  )
  for (const p of group.problems) hash.update(`${p.kind}:${p.seq ?? ''}:${p.treeSize ?? ''}\0`)
  for (const value of values) hash.update(value ?? 'absent').update('\0')
  return {
    fingerprint: hash.digest('hex').slice(0, 32),
    values: new Map(seqs.map((seq, i) => [seq, values[i]])),
  }
}

/** Most entries a snapshot keeps beyond those the problems name. */
const MAX_SUSPECTS = 1000

/**
 * The entries a re-chained rewrite may have changed: from the first stale tree node's pair
 * (the verifier checks the level-1 node of every confirmed pair, so the first changed leaf is
 * that node's seq or the one before it) to the last record on disk. A feed damaged at open
 * has no committed size (store.size is 0), so its head records and the named seqs bound it.
 */
async function suspectSeqs(
  store: ScrubView,
  group: ProblemGroup,
  named: readonly number[],
): Promise<number[]> {
  const stale = group.problems.flatMap((p) =>
    p.kind === 'tree-node' && p.seq !== undefined ? [p.seq] : [],
  )
  if (stale.length === 0) return []
  const from = Math.max(1, Math.min(...stale) - 1)
  const last = Math.max(store.size(group.origin), await store.lastHeadSize(group.origin), ...named)
  const to = Math.min(last, from + MAX_SUSPECTS - 1)
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
}

/**
 * After a repair the authentic entries are known: a record the scrub called modified that held
 * exactly the authentic entry then was not modified. The scrub blames the last entry when the
 * latest head's root differs (a head re-signed over a forged tree): that head is what was
 * wrong, and the incident says so.
 */
export async function attributeAfterRepair(
  store: ScrubView,
  group: ProblemGroup,
  values: ReadonlyMap<number, Buffer | undefined>,
  rewritten: readonly number[] = [],
): Promise<ProblemGroup> {
  const problems: Problem[] = []
  // An insider who rewrote several entries and re-chained and re-signed them leaves one trace
  // the scrub can see: the cosigned root, blamed on the last entry. The repair's later passes
  // find the others (each authentic entry's chain link exposes its forged predecessor) and
  // rewrite them: they were modified too, and the incident names them all.
  const named = new Set(
    group.problems.flatMap((p) => (p.seq === undefined || !p.entryId ? [] : [p.seq])),
  )
  // Entries snapshotted as suspects that hold other entry bytes now: something replaced them.
  // Bytes, not sealed values: sync re-storing an entry unchanged seals it anew.
  const unnamed = [...values.keys()].filter((seq) => !named.has(seq))
  const current = await store.rawRecords(group.origin, unnamed, [])
  const replaced = unnamed.filter((seq, i) => {
    const [before, now] = [values.get(seq), current[i]]
    if (before === undefined || now === undefined || before.equals(now)) return false
    const then = store.entryBytesOfValue(group.origin, seq, before)
    const bytes = store.entryBytesOfValue(group.origin, seq, now)
    return bytes !== undefined && (then === undefined || !bytesEqual(then, bytes))
  })
  for (const seq of [...new Set([...rewritten, ...replaced])].sort((a, b) => a - b)) {
    if (named.has(seq)) continue
    problems.push({
      kind: 'modified',
      origin: group.origin,
      seq,
      entryId: `${group.origin}:${seq}`,
      message: `entry ${group.origin}:${seq} differed from the authentic entry (found while repairing)`,
    })
  }
  for (const p of group.problems) {
    const value = p.kind === 'modified' && p.seq !== undefined ? values.get(p.seq) : undefined
    const then = value && store.entryBytesOfValue(group.origin, p.seq!, value)
    const now = then && (await store.getEntry(group.origin, p.seq!).catch(() => undefined))
    if (now && then && bytesEqual(now.bytes, then)) {
      problems.push({
        kind: 'root-mismatch',
        origin: group.origin,
        treeSize: p.seq!,
        message: `entry ${p.entryId} was authentic; the signed head at size ${p.seq} gave another root`,
      })
    } else problems.push(p)
  }
  return { ...group, problems }
}

export interface DamageIncidentInput {
  self: string
  group: ProblemGroup
  /** The member the authentic data came from; undefined when the damage is not repaired. */
  repairedFrom: string | undefined
  /**
   * Repaired by this node alone: it removed the records no signed head covers (`removed`,
   * entry ids) and fetched nothing, so no peer is named as the source.
   */
  repairedHere?: { removed: string[] }
  key: string
  /** When the scrub found it (ISO 8601). */
  detectedAt: string
  trusted: TrustedCuts | undefined
  tried: readonly FeedRepairOutcome[]
}

/** A modified/deleted incident with its evidence: problems, trusted roots, what was written. */
export function damageIncident(input: DamageIncidentInput): IntegrityIncident {
  const { self, group, repairedFrom, trusted } = input
  const entryIds = entryIdsOf(group.problems)
  const cut = trusted?.cuts.get(group.origin)
  const here = repairedFrom ? input.repairedHere : undefined
  const outcome = here
    ? here.removed.length > 0
      ? `Repaired by ${self} itself: ${here.removed.join(', ')} ${here.removed.length === 1 ? 'was' : 'were'} removed; nothing was needed from a peer.`
      : `Repaired: ${self}'s replica verifies again.`
    : repairedFrom
      ? `Repaired from ${repairedFrom}: the authentic data was restored after its proof checked out.`
      : 'Not repaired yet: no peer proved the authentic data; the next scrub tries again.'
  return {
    kind: group.kind,
    reportingNode: self,
    origin: group.origin,
    ...seqRangeOf(group.problems),
    entryIds,
    detectedAt: input.detectedAt,
    summary: `${summaryOf(group, self)} ${outcome}`,
    evidence: {
      problems: group.problems,
      ...(cut && trusted
        ? {
            checkpoint: { id: trusted.checkpointId, treeSize: cut.treeSize, root: toHex(cut.root) },
          }
        : {}),
      repair: input.tried.map((o) => ({
        from: o.from,
        provenAgainst: o.anchors.map((a) => ({ ...a, root: toHex(a.root) })),
        written: o.result,
        rejected: o.rejected,
        unproven: o.unproven,
      })),
    },
    key: input.key,
    ...(repairedFrom
      ? {
          repaired: {
            from: repairedFrom,
            entryIds,
            ...(here ? { local: true, removed: here.removed } : {}),
          },
        }
      : {}),
  }
}
