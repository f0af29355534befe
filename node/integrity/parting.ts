import { bytesEqual, fromHex, toHex } from '../core/hex.ts'
import { foldSubtrees, hashLeaf, rootFromInclusionProof } from '../core/merkle/index.ts'
import type { Logger } from '../logger.ts'
import { LIMITS, rangesOf } from '../net/index.ts'
import type { ScrubView } from '../store/index.ts'
import type { RepairPeer } from './repair-peers.ts'

/** A history of `origin` that conflicts with this replica: its root at `treeSize`. */
export interface PartingQuestion {
  origin: string
  treeSize: number
  /** Roots at `treeSize` to try as the other history, in order; one equal to ours is skipped. */
  roots: readonly Uint8Array[]
  /** Members likely to hold that history (the proposer, the finder), asked first. */
  askFirst: readonly string[]
}

/** Where this replica and the other history part, proven from the other side's answers. */
export interface Parting {
  origin: string
  /** The first seq whose leaf differs: both histories agree on every entry before it. */
  seq: number
  treeSize: number
  /** The other history's root at `treeSize`, which every answer below proves into. */
  root: Uint8Array
  provenBy: string
  /** Leaf hashes at `seq`: this replica's, and the other history's with its inclusion proof. */
  ourLeafHash: Uint8Array | undefined
  theirLeafHash: Uint8Array
  theirProof: Uint8Array[]
  /** The root both histories give for their first seq - 1 entries. */
  agreedRoot: Uint8Array
}

export interface PartingInput {
  replica: Pick<ScrubView, 'size' | 'rootAt' | 'getEntry'>
  peers: readonly RepairPeer[]
  question: PartingQuestion
  log: Logger
  signal?: AbortSignal
}

/** Seqs asked per request: a 33-ary search, ~4 round trips for a million entries. */
const PROBES = Math.min(32, LIMITS.maxRepairRanges, LIMITS.maxRepairSeqs)

/**
 * The first seq where this replica's feed and another history of it differ (a restored node
 * that forked, a proposer holding other roots). The other history is known by its root at a
 * tree size; its entries come from peers (/ehrlog/repair/1.0.0) and count only when their
 * inclusion proof gives that root. Each proof also gives the other history's root over the
 * entries before and up to its seq (`prefixRoot`), compared with this replica's: the
 * histories agree up to some seq and differ from there on, so a search over the seqs finds
 * the first that differs, with proof. Undefined when no peer proves the other history, or
 * it agrees with this replica as far as this replica goes.
 */
export async function findParting(input: PartingInput): Promise<Parting | undefined> {
  for (const root of input.question.roots) {
    if (input.signal?.aborted) return undefined
    const found = await partingFrom(input, root).catch((err: unknown) => {
      input.log.warn(
        { origin: input.question.origin, err: (err as Error).message },
        'could not find where the histories part',
      )
      return undefined
    })
    if (found) return found
  }
  return undefined
}

interface Probe {
  /** The member whose answer proved it. */
  peer: string
  agrees: boolean
  leafHash: Uint8Array
  proof: Uint8Array[]
  prefixRoot: Uint8Array
}

async function partingFrom(input: PartingInput, root: Uint8Array): Promise<Parting | undefined> {
  const { replica, question, signal } = input
  const { origin, treeSize } = question
  const hi0 = Math.min(replica.size(origin), treeSize)
  if (hi0 === 0) return undefined
  // At the other history's own size its root tells at once whether it is ours.
  if (hi0 === treeSize && bytesEqual(await replica.rootAt(origin, treeSize), root)) return undefined
  const peers = orderPeers(input.peers, question)
  const probes = new Map<number, Probe>()
  let lo = 0 // the histories agree on the first `lo` entries
  let hi: number | undefined = hi0 === treeSize ? treeSize : undefined // ...and differ at `hi`
  let peer = 0
  while (hi === undefined || hi - lo > 1) {
    if (signal?.aborted || peer >= peers.length) return undefined
    const asked = probesBetween(lo, hi ?? hi0, hi === undefined)
    const answered = await ask(input, peers[peer]!, root, asked)
    if (!answered) {
      peer++
      continue
    }
    for (const [seq, probe] of answered) probes.set(seq, probe)
    for (const seq of asked) {
      const probe = answered.get(seq)
      if (!probe) continue
      if (probe.agrees) lo = Math.max(lo, seq)
      else hi = Math.min(hi ?? seq, seq)
    }
    if (hi === undefined && answered.get(hi0)?.agrees) return undefined // agree as far as we go
    if (hi !== undefined && lo >= hi) return undefined // not one point where they part: refuse
    if (answered.size < asked.length) peer++ // a peer that leaves probes out: ask the next
  }
  // Both ends proven: `hi` from a probe (or the root at treeSize), `lo` from one or empty.
  let at = probes.get(hi)
  if (!at) {
    const answered = await firstAnswer(input, peers, root, [hi])
    at = answered?.get(hi)
    if (!at) return undefined
  }
  return {
    origin,
    seq: hi,
    treeSize,
    root,
    provenBy: at.peer,
    ourLeafHash: (await replica.getEntry(origin, hi).catch(() => undefined))?.hash,
    theirLeafHash: at.leafHash,
    theirProof: at.proof,
    agreedRoot: await replica.rootAt(origin, hi - 1),
  }
}

/** The askFirst members, then the origin (the authority on its feed), then the rest. */
function orderPeers(peers: readonly RepairPeer[], question: PartingQuestion): RepairPeer[] {
  const rank = (p: RepairPeer) => {
    const first = question.askFirst.indexOf(p.name)
    return first >= 0 ? first : p.name === question.origin ? question.askFirst.length : 1e9
  }
  return [...peers].sort((a, b) => rank(a) - rank(b))
}

/** Up to PROBES seqs spread over (lo, hi), and `hi` itself when whether it differs is unknown. */
function probesBetween(lo: number, hi: number, withHi: boolean): number[] {
  const inside = hi - lo - 1
  const count = Math.min(inside, PROBES - (withHi ? 1 : 0))
  const seqs = new Set<number>()
  for (let i = 1; i <= count; i++) seqs.add(lo + Math.round((i * (inside + 1)) / (count + 1)))
  if (withHi) seqs.add(hi)
  return [...seqs].filter((s) => s > lo && s <= hi).sort((a, b) => a - b)
}

async function firstAnswer(
  input: PartingInput,
  peers: readonly RepairPeer[],
  root: Uint8Array,
  seqs: number[],
): Promise<Map<number, Probe> | undefined> {
  for (const peer of peers) {
    const answered = await ask(input, peer, root, seqs)
    if (answered && answered.size === seqs.length) return answered
  }
  return undefined
}

/**
 * Asks `peer` for `seqs` at the other history's size; undefined when it cannot answer or any
 * answer does not prove into `root` (it holds another history, or lies: not asked again).
 */
async function ask(
  input: PartingInput,
  peer: RepairPeer,
  root: Uint8Array,
  seqs: number[],
): Promise<Map<number, Probe> | undefined> {
  const { origin, treeSize } = input.question
  let response: Awaited<ReturnType<RepairPeer['request']>>
  try {
    response = await peer.request({ origin, treeSize, ranges: rangesOf(seqs) }, input.signal)
  } catch (err) {
    input.log.debug({ peer: peer.name, origin, err: (err as Error).message }, 'parting: no answer')
    return undefined
  }
  const out = new Map<number, Probe>()
  for (const [seq, entry] of response.entries) {
    const leafHash = hashLeaf(entry.bytes)
    try {
      if (!bytesEqual(rootFromInclusionProof(leafHash, seq - 1, treeSize, entry.proof), root))
        throw new Error(`entry ${seq} does not prove into the root at ${treeSize}`)
    } catch (err) {
      input.log.warn(
        { peer: peer.name, origin, seq, treeSize, err: (err as Error).message },
        'parting: an answer does not prove into the other history: not used',
      )
      return undefined
    }
    const prefix = prefixRoot(leafHash, seq - 1, treeSize, entry.proof)
    const ours = await input.replica.rootAt(origin, seq)
    const probe = {
      peer: peer.name,
      agrees: bytesEqual(prefix, ours),
      leafHash,
      proof: entry.proof,
      prefixRoot: prefix,
    }
    out.set(seq, probe)
  }
  return out
}

/**
 * The root of the first index + 1 leaves of the tree an inclusion proof of leaf `index` is
 * for (RFC 9162 §2.1.3.2). Every hash the verifier puts on the left (`fn` odd, or `fn` = `sn`)
 * is a complete subtree left of the leaf; together, largest first, they are the complete
 * subtrees of leaves [0, index), so with the leaf they fold to that prefix's MTH (§2.1.1).
 * The caller checks the proof against the root first.
 */
export function prefixRoot(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  const lefts: Uint8Array[] = []
  let fn = index
  let sn = treeSize - 1
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      lefts.push(p)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return foldSubtrees([...lefts.reverse(), leafHash])
}

/** What an alert's evidence says about two histories at one size, as a question; else undefined. */
export function partingQuestionOf(incident: {
  kind: string
  origin: string
  evidence: unknown
}): PartingQuestion | undefined {
  const e = incident.evidence as Record<string, unknown> | undefined
  if (!e || typeof e.treeSize !== 'number' || !Number.isSafeInteger(e.treeSize)) return undefined
  const hex = (v: unknown) => (typeof v === 'string' ? fromHex(v, 32) : undefined)
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((n) => typeof n === 'string') : [])
  let roots: Array<Uint8Array | undefined> = []
  let askFirst: string[] = []
  if (incident.kind === 'diverged') {
    roots = [hex(e.theirRoot), hex(e.ourRoot)]
    askFirst = names(e.nodes)
  } else if (incident.kind === 'equivocation' && e.type === 'heads') {
    roots = [hex((e.a as Record<string, unknown> | undefined)?.root), hex(e.bRoot)]
    askFirst = names([e.foundBy])
  } else return undefined
  const found = roots.filter((r): r is Uint8Array => r !== undefined)
  if (found.length === 0) return undefined
  return { origin: incident.origin, treeSize: e.treeSize, roots: found, askFirst }
}

/** A parting as evidence.json shows it: hashes in hex, checkable against the root at treeSize. */
export function partingToJson(parting: Parting): Record<string, unknown> {
  return {
    seq: parting.seq,
    treeSize: parting.treeSize,
    root: toHex(parting.root),
    provenBy: parting.provenBy,
    ourEntryHash: parting.ourLeafHash ? toHex(parting.ourLeafHash) : null,
    theirEntryHash: toHex(parting.theirLeafHash),
    leafIndex: parting.seq - 1,
    theirInclusionProof: parting.theirProof.map(toHex),
    agreedRootBefore: toHex(parting.agreedRoot),
    proof: `both histories give root agreedRootBefore over their first ${parting.seq - 1} entries; entry ${parting.seq} differs (theirEntryHash is included at leafIndex under root at treeSize)`,
  }
}
