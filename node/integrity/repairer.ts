import { bytesEqual } from '../core/hex.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead } from '../core/tree-head.ts'
import type { Logger } from '../logger.ts'
import { LIMITS, type RepairResponse, rangesOf } from '../net/index.ts'
import {
  type FeedRepair,
  type FeedRepairResult,
  type KnownHead,
  type Problem,
  type ProvenEntry,
  type ScrubView,
  verifyProvenEntry,
} from '../store/index.ts'
import { findParting } from './parting.ts'
import type { RepairPeer } from './repair-peers.ts'

/** A member to fetch authentic data from (/ehrlog/repair/1.0.0 in a running node). */
export type { RepairPeer } from './repair-peers.ts'

export interface FeedRepairInput {
  /** What the repair reads of this replica (LogStore.scrubView). */
  replica: ScrubView
  /** Writes what was proven (LogStore.repairFeed, which checks all of it again). */
  writeRepair: (repair: FeedRepair) => Promise<FeedRepairResult>
  origin: string
  /** This scrub's problems of `origin`. */
  problems: readonly Problem[]
  /** The latest cosigned checkpoint's cut of `origin`, verified: the strongest trusted root. */
  cut: KnownHead | undefined
  /** The origin's Ed25519 tree-head key (membership): a head it signed is a trusted root too. */
  originKey: Uint8Array | undefined
  peers: readonly RepairPeer[]
  /** Runs the write with the feed's other writers held off (OriginGate.exclusive). */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>
  log: Logger
  signal?: AbortSignal
}

export interface FeedRepairOutcome {
  /** What was written; undefined when nothing could be proven. */
  result: FeedRepairResult | undefined
  /** Members whose verified answers were used, in order of first use. */
  from: string[]
  /** Answers that failed verification, never written. */
  rejected: Array<{ peer: string; treeSize: number; seq?: number; reason: string }>
  /** Seqs no peer could prove. */
  unproven: number[]
  /** Trusted roots the written entries were proven against. */
  anchors: Array<{ treeSize: number; root: Uint8Array; source: 'checkpoint' | 'signed head' }>
  /**
   * First seq of a tail beyond every head this replica still has (rolled back with its heads):
   * plain sync pulls it once the feed state is right.
   */
  tailFrom: number | undefined
}

interface Wanted {
  /** Seqs to prove, each with the tree sizes to try in order. */
  seqs: Map<number, number[]>
  /** Sizes whose signed head must be restored. */
  heads: Set<number>
  /** Records beyond every head: proven if a peer still has them signed, else deleted. */
  uncovered: number[]
  tailFrom: number | undefined
}

/**
 * Repairs one feed of this replica from peers: works out which entries and heads the
 * problems name, fetches them with inclusion proofs, believes an answer only when it proves
 * into a trusted root (the cosigned checkpoint's, or a head the origin signed), and writes
 * what was proven in one batch (node/store/repair/feed-repair.ts checks it all again).
 */
export async function repairFromPeers(input: FeedRepairInput): Promise<FeedRepairOutcome> {
  const wanted = await wantedOf(input)
  const outcome: FeedRepairOutcome = {
    result: undefined,
    from: [],
    rejected: [],
    unproven: [],
    anchors: [],
    tailFrom: wanted.tailFrom,
  }
  const proven = new Map<number, ProvenEntry>()
  const trustedRoots = new Map<number, Uint8Array>()
  const heads = new Map<number, SignedTreeHead>()
  const used = new Set<string>()
  // Each round asks, per tree size, for the seqs whose next candidate size it is.
  for (let round = 0; round < 4 && !input.signal?.aborted; round++) {
    const bySize = new Map<number, number[]>()
    for (const [seq, sizes] of wanted.seqs) {
      if (proven.has(seq) || sizes.length <= round) continue
      const size = sizes[round]!
      const group = bySize.get(size)
      if (group) group.push(seq)
      else bySize.set(size, [seq])
    }
    if (round === 0) for (const size of wanted.heads) if (!bySize.has(size)) bySize.set(size, [])
    if (bySize.size === 0) break
    for (const [treeSize, seqs] of bySize) {
      const state = { proven, trustedRoots, heads, used, outcome }
      await fetchAt(input, treeSize, seqs, wanted.heads.has(treeSize), state)
    }
  }
  outcome.unproven = [...wanted.seqs.keys()].filter((s) => !proven.has(s)).sort((a, b) => a - b)
  outcome.from = [...used]
  for (const [treeSize, root] of trustedRoots) {
    const source = input.cut?.treeSize === treeSize ? 'checkpoint' : 'signed head'
    outcome.anchors.push({ treeSize, root, source })
  }
  if (proven.size === 0 && heads.size === 0 && wanted.uncovered.length === 0) return outcome
  outcome.result = await input.exclusive(() =>
    input.writeRepair({
      origin: input.origin,
      trustedRoots,
      entries: [...proven.values()],
      heads: [...heads.values()],
      uncovered: wanted.uncovered,
    }),
  )
  return outcome
}

/** The entries, heads and uncovered records the problems name, with the sizes to prove at. */
async function wantedOf(input: FeedRepairInput): Promise<Wanted> {
  const { replica, origin, cut } = input
  const lastHead = await replica.lastHeadSize(origin)
  const wanted: Wanted = { seqs: new Map(), heads: new Set(), uncovered: [], tailFrom: undefined }
  const entrySeqs = new Set<number>()
  for (const p of input.problems) {
    if (p.kind === 'inserted' && p.seq !== undefined) wanted.uncovered.push(p.seq)
    else if (p.kind === 'truncated' && p.seq !== undefined && p.seq > lastHead)
      wanted.tailFrom = Math.min(wanted.tailFrom ?? p.seq, p.seq)
    else if (p.seq !== undefined) entrySeqs.add(p.seq)
    else if (p.treeSize !== undefined) {
      wanted.heads.add(p.treeSize)
      // A root that no flagged entry explains: some entry of that batch differs unflagged.
      if (p.kind === 'root-mismatch') {
        const from = (await replica.headSizeBefore(origin, p.treeSize)) + 1
        for (let seq = from; seq <= Math.min(p.treeSize, lastHead); seq++) entrySeqs.add(seq)
      }
    }
  }
  for (const seq of await rewrittenBelowCut(input)) entrySeqs.add(seq)
  for (const seq of entrySeqs) {
    // Under the checkpoint only its root counts: a head the origin signed that disagrees
    // with what a quorum cosigned is a second history, never a source.
    if (cut && seq <= cut.treeSize) wanted.seqs.set(seq, [cut.treeSize])
    else wanted.seqs.set(seq, await replica.headSizes(origin, seq, 3))
  }
  // Records beyond every head may be a batch whose head alone was lost: a peer holding the
  // head at the last of them proves them, and they stay.
  const lastUncovered = Math.max(0, ...wanted.uncovered)
  for (const seq of wanted.uncovered) wanted.seqs.set(seq, [lastUncovered])
  return wanted
}

/** Most entries asked for from where the replica parts from the checkpoint's tree. */
const MAX_REWRITTEN = 4096

/**
 * Entries before the one a scrub blames may have been rewritten too, re-chained with their
 * tree nodes recomputed: then only the checkpoint's root disagrees, and each pass would find
 * one more forged link. Where this replica parts from the cut's tree (parting.ts, proven
 * with the members' entries at the cut) is the first of them: every entry from there to the
 * cut is asked for at once. Nothing when the replica gives the cut's root (the damage is
 * elsewhere), or its tree cannot be read (a record that fails authentication names itself).
 */
async function rewrittenBelowCut(input: FeedRepairInput): Promise<number[]> {
  const { cut, replica, origin } = input
  const blamed = input.problems.some(
    (p) => p.kind === 'modified' && p.seq !== undefined && cut && p.seq <= cut.treeSize,
  )
  if (!cut || !blamed || replica.size(origin) < cut.treeSize) return []
  try {
    if (bytesEqual(await replica.rootAt(origin, cut.treeSize), cut.root)) return []
  } catch {
    return []
  }
  const parting = await findParting({
    replica,
    peers: input.peers,
    question: { origin, treeSize: cut.treeSize, roots: [cut.root], askFirst: [origin] },
    log: input.log,
    ...(input.signal ? { signal: input.signal } : {}),
  })
  if (!parting) return []
  const to = Math.min(cut.treeSize, parting.seq + MAX_REWRITTEN - 1)
  return Array.from({ length: to - parting.seq + 1 }, (_, i) => parting.seq + i)
}

interface FetchState {
  proven: Map<number, ProvenEntry>
  trustedRoots: Map<number, Uint8Array>
  heads: Map<number, SignedTreeHead>
  used: Set<string>
  outcome: FeedRepairOutcome
}

/** Asks peers in turn for `seqs` at `treeSize` (and its head if wanted) until all are proven. */
async function fetchAt(
  input: FeedRepairInput,
  treeSize: number,
  seqs: readonly number[],
  needHead: boolean,
  state: FetchState,
): Promise<void> {
  const { origin, log } = input
  for (const peer of input.peers) {
    const missing = seqs.filter((s) => !state.proven.has(s))
    if (missing.length === 0 && (!needHead || state.heads.has(treeSize))) return
    for (const chunk of chunksOf(missing)) {
      let response: RepairResponse
      try {
        response = await peer.request({ origin, treeSize, ranges: rangesOf(chunk) }, input.signal)
      } catch (err) {
        log.debug(
          { peer: peer.name, origin, treeSize, err: (err as Error).message },
          'repair request failed',
        )
        break // this peer lacks that size or is down: the next one
      }
      const root = trustedRootOf(input, treeSize, response.head)
      if (response.head) {
        if (root && isSignedByOrigin(input, response.head) && bytesEqual(response.head.root, root))
          state.heads.set(treeSize, response.head)
        else
          reject(
            state,
            log,
            peer.name,
            treeSize,
            undefined,
            "head not signed by the origin, or not the checkpoint's root",
          )
      }
      for (const [seq, entry] of response.entries) {
        try {
          if (!root) throw new Error('no trusted root at that size')
          verifyProvenEntry(origin, { seq, treeSize, ...entry }, root)
        } catch (err) {
          // A forged or damaged answer: logged with the peer, never written.
          reject(state, log, peer.name, treeSize, seq, (err as Error).message)
          continue
        }
        state.proven.set(seq, { seq, treeSize, ...entry })
        state.trustedRoots.set(treeSize, root)
        state.used.add(peer.name)
      }
    }
  }
}

function reject(
  state: FetchState,
  log: Logger,
  peer: string,
  treeSize: number,
  seq: number | undefined,
  reason: string,
): void {
  state.outcome.rejected.push({ peer, treeSize, ...(seq === undefined ? {} : { seq }), reason })
  log.warn({ peer, treeSize, seq, reason }, 'repair answer failed verification: not written')
}

function isSignedByOrigin(input: FeedRepairInput, head: SignedTreeHead): boolean {
  return (
    head.origin === input.origin &&
    input.originKey !== undefined &&
    isTreeHeadSignatureValid(head, input.originKey)
  )
}

/**
 * The root to believe at `treeSize`: the cosigned checkpoint's cut there, else the peer's head
 * if the origin signed it. A peer head that contradicts the checkpoint is not believed.
 */
function trustedRootOf(
  input: FeedRepairInput,
  treeSize: number,
  head: SignedTreeHead | undefined,
): Uint8Array | undefined {
  if (input.cut?.treeSize === treeSize) return input.cut.root
  return head && isSignedByOrigin(input, head) ? head.root : undefined
}

/** Requests of at most maxRepairSeqs seqs in maxRepairRanges ranges; no seqs: one head-only request. */
function* chunksOf(seqs: readonly number[]): Generator<number[]> {
  const sorted = [...seqs].sort((a, b) => a - b)
  let chunk: number[] = []
  let ranges = 0
  for (const seq of sorted) {
    const opens = chunk.length === 0 || chunk[chunk.length - 1] !== seq - 1
    if (chunk.length === LIMITS.maxRepairSeqs || (opens && ranges === LIMITS.maxRepairRanges)) {
      yield chunk
      chunk = []
      ranges = 0
    }
    if (chunk.length === 0 || chunk[chunk.length - 1] !== seq - 1) ranges++
    chunk.push(seq)
  }
  if (chunk.length > 0 || sorted.length === 0) yield chunk
}
