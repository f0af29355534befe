import type { Checkpoint, CosignedCheckpoint } from '../core/checkpoint.ts'
import { bytesEqual, toHex } from '../core/hex.ts'
import { verifyConsistency } from '../core/merkle/index.ts'
import type { IndexView } from '../index/index-view.ts'
import type { Logger } from '../logger.ts'
import type { LogStore } from '../store/index.ts'

/** Something wrong found while checking checkpoints: for the alerts. */
export interface CheckpointIncident {
  kind: 'diverged' | 'index-diverged' | 'invalid-checkpoint'
  origin: string
  /** Deduplicates reports of the same incident. */
  key: string
  summary: string
  evidence: Record<string, unknown>
}

export interface ProposalCheckOptions {
  self: string
  /**
   * The members of the version the checkpoint names: exactly their feeds must be cut, and a
   * feed of the latest checkpoint not among them (a removed member) stays frozen there.
   * Undefined: the feeds are not checked against a member list.
   */
  members?: ReadonlySet<string>
  store: LogStore
  /** This node's per-patient index: its root at each cut must equal the proposal's. */
  index: Pick<IndexView, 'rootAt'>
  /** The newest cosigned checkpoint this node verified. */
  latest: CosignedCheckpoint | undefined
  proposerName: string
  /** Pulls missing entries from peers now. */
  syncNow: () => Promise<void>
  /** How long to wait for entries this replica lacks. */
  syncWaitMs: number
  /** True once the service stops: waiting ends. */
  stopped: () => boolean
  onIncident: (incident: CheckpointIncident) => void
  logger: Logger
}

/**
 * Whether this node may cosign `checkpoint`: its replica holds exactly the proposed roots
 * (pulling what it lacks first; a different root is a divergence incident), its own index of
 * those entries has the proposed index roots (a different one is an 'index-diverged' incident
 * naming the origin) and every cut extends the latest cosigned checkpoint (RFC 9162
 * consistency, per origin).
 */
export async function mayCosign(
  checkpoint: Checkpoint,
  opts: ProposalCheckOptions,
): Promise<boolean> {
  const { store } = opts
  const origins = checkpoint.feeds.map((f) => f.origin)
  const members = opts.members
  if (members && (origins.length !== members.size || origins.some((o) => !members.has(o)))) {
    opts.logger.warn(
      { origins, members: [...members] },
      'not signing a checkpoint: its feeds are not those of its membership version',
    )
    return false
  }
  await awaitEntries(checkpoint, opts)
  if (opts.stopped()) return false
  for (const cut of checkpoint.feeds) {
    if (store.size(cut.origin) < cut.treeSize) {
      opts.logger.info(
        { origin: cut.origin, want: cut.treeSize, have: store.size(cut.origin) },
        'not signing a checkpoint: entries still missing',
      )
      return false
    }
    const ours = await store.rootAt(cut.origin, cut.treeSize)
    if (!bytesEqual(ours, cut.root)) {
      opts.onIncident({
        kind: 'diverged',
        origin: cut.origin,
        key: `${cut.origin}:${cut.treeSize}:${toHex(cut.root)}`,
        summary: `${opts.proposerName} holds root ${toHex(cut.root).slice(0, 16)}… for ${cut.origin} at size ${cut.treeSize}; ${opts.self} holds ${toHex(ours).slice(0, 16)}…`,
        evidence: {
          origin: cut.origin,
          treeSize: cut.treeSize,
          theirRoot: toHex(cut.root),
          ourRoot: toHex(ours),
          nodes: [opts.proposerName, opts.self],
        },
      })
      return false
    }
    const ourIndex = await opts.index.rootAt(cut.origin, cut.treeSize)
    if (!bytesEqual(ourIndex, cut.indexRoot)) {
      opts.onIncident({
        kind: 'index-diverged',
        origin: cut.origin,
        // One incident per origin and size, whatever roots the proposers put in.
        key: `${cut.origin}:${cut.treeSize}`,
        summary: `${opts.proposerName} proposes index root ${toHex(cut.indexRoot).slice(0, 16)}… for ${cut.origin} at size ${cut.treeSize}; the index ${opts.self} computes from the same entries has ${toHex(ourIndex).slice(0, 16)}…: not cosigned`,
        evidence: {
          origin: cut.origin,
          treeSize: cut.treeSize,
          root: toHex(cut.root),
          theirIndexRoot: toHex(cut.indexRoot),
          ourIndexRoot: toHex(ourIndex),
          nodes: [opts.proposerName, opts.self],
        },
      })
      return false
    }
  }
  return extendsLatest(checkpoint, opts)
}

/**
 * Each feed's cut must extend the latest cosigned one: RFC 9162 consistency, per origin. A
 * member removed since is no longer cut: its feed stays frozen at the latest cut.
 */
async function extendsLatest(checkpoint: Checkpoint, opts: ProposalCheckOptions): Promise<boolean> {
  const latest = opts.latest?.checkpoint
  if (!latest) return true
  if (checkpoint.timeMs <= latest.timeMs) return false // stale or replayed
  for (const old of latest.feeds) {
    const cut = checkpoint.feeds.find((f) => f.origin === old.origin)
    if (!cut && opts.members && !opts.members.has(old.origin)) continue
    if (!cut || cut.treeSize < old.treeSize) return false
    if (old.treeSize === 0) continue
    const proof = await opts.store.consistencyProof(old.origin, old.treeSize, cut.treeSize)
    try {
      verifyConsistency(old.treeSize, cut.treeSize, old.root, cut.root, proof)
    } catch {
      opts.logger.error(
        { origin: old.origin, from: old.treeSize, to: cut.treeSize },
        'replica is not consistent with the latest cosigned checkpoint: refusing to sign',
      )
      return false
    }
  }
  return true
}

async function awaitEntries(checkpoint: Checkpoint, opts: ProposalCheckOptions): Promise<void> {
  const lacking = () => checkpoint.feeds.some((c) => opts.store.size(c.origin) < c.treeSize)
  if (!lacking()) return
  await opts.syncNow().catch(() => {})
  const deadline = Date.now() + opts.syncWaitMs
  while (lacking() && Date.now() < deadline && !opts.stopped())
    await new Promise((r) => setTimeout(r, 50))
}
