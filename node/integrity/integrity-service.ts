import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import { isEhrlogError } from '../core/errors.ts'
import type { Membership } from '../core/trust/index.ts'
import type { IndexView } from '../index/index-view.ts'
import type { Logger } from '../logger.ts'
import { type MembershipView, membershipViewOf } from '../membership/membership-view.ts'
import type { AcceptResult, FeedBatch, LogStore } from '../store/index.ts'
import { CheckpointTrust, originKeyOf } from './checkpoint-trust.ts'
import { CutJudge } from './cut-judge.ts'
import { EquivocationWatch } from './equivocation-watch.ts'
import { startFirstScrub } from './first-scrub.ts'
import type { IntegrityIncident } from './incident.ts'
import { OriginGate } from './origin-gate.ts'
import { OwnCutHold } from './own-cut.ts'
import { findParting, partingQuestionOf, partingToJson } from './parting.ts'
import type { RepairPeer } from './repairer.ts'
import { type RetiredKeyIncident, retiredKeyIncidentOf } from './retired-key.ts'
import { ScrubSchedule } from './scrub-schedule.ts'
import { Scrubber, type ScrubResult } from './scrubber.ts'
import { StartHold } from './start-hold.ts'
import { awaitTail, type TailWaitOptions } from './tail-wait.ts'

export type { ScrubResult }

export interface IntegrityServiceOptions {
  /** This node's member name. */
  self: string
  store: LogStore
  /**
   * The membership (a LiveMembership follows changes): checkpoints are verified under the
   * version they name; the feeds judged are those of the version in force.
   */
  membership: Membership | MembershipView
  /** The newest cosigned checkpoint (CheckpointService.latest); verified here before use. */
  latestCheckpoint: () => CosignedCheckpoint | undefined
  /**
   * The feeds this replica held up to their cut in that checkpoint when it was adopted
   * (CheckpointService.latestHeld); undefined: every feed (a checkpoint stored before this
   * was recorded).
   */
  latestHeld?: () => ReadonlySet<string> | undefined
  /** Connected members to repair from (empty before the network is up). */
  peers: () => RepairPeer[]
  /** Runs an anti-entropy round now (NetService.syncNow): refills a rolled-back tail. */
  syncNow: () => Promise<void>
  /** Gossips equivocation evidence on the member-only 'evidence' control topic. */
  publishEvidence: (data: Uint8Array) => Promise<void>
  /** Told of each incident once, after its repair was tried (see IntegrityIncident.repaired). */
  onIncident: (incident: IntegrityIncident) => void
  /**
   * Told once per head of a batch refused as signed by a retired key (retired-key.ts), before
   * the same incident is given to onIncident (kind `rotated-out-key`).
   */
  onRetiredKey?: (incident: RetiredKeyIncident) => void
  logger: Logger
  /** Time between scheduled scrubs; 0: only at start and on scrubNow() (default 10 min). */
  scrubIntervalMs?: number
  /** How long a repair waits for sync to refill a tail cut below the checkpoint (default 15 s). */
  tailWaitMs?: number
  /**
   * First wait before scrubbing again while an incident is unrepaired; doubles up to
   * scrubIntervalMs (default 5 s). A repair also waits up to this long for a first peer.
   */
  retryMs?: number
  /** Cosigners a checkpoint needs to be trusted (default: a majority, as CheckpointService). */
  quorum?: number
  /**
   * What the first scrub after start waits for when no feed is held at start (NetService's
   * first sync session): a restarted node catches up first, instead of reading its whole
   * replica while it catches up. Feeds damaged at open or shorter than the checkpoint are
   * scrubbed at once, since their batches wait for that scrub.
   */
  beforeFirstScrub?: () => Promise<void>
  /** Told how long each scrub took (metrics). */
  onScrubbed?: (durationMs: number) => void
  /**
   * The per-patient index, checked against the replica after each scrub's repairs (a repaired
   * entry changes what the index must say): an origin whose index differed is rebuilt by
   * check() and named in an 'index-diverged' incident.
   */
  index?: Pick<IndexView, 'check'>
}

/**
 * Detection and self-repair (docs/architecture.md, "Detection and repair"): scrubs the replica
 * against the latest cosigned checkpoint at start, periodically and on demand, repairs what it
 * finds from peers (only with data proven into a trusted root), reports each incident once
 * with whether it was repaired, and watches for equivocation by any origin. Its rules live in
 * the parts it wires: which cuts bind the replica (cut-judge.ts), batches held until the first
 * scrub (start-hold.ts), when that scrub runs (first-scrub.ts), appends held while the own feed
 * is below its cut (own-cut.ts), one scrub with its repairs (scrubber.ts), and when scrubs run
 * again (scrub-schedule.ts).
 */
export class IntegrityService {
  readonly #opts: IntegrityServiceOptions
  readonly #controller = new AbortController()
  readonly #gate = new OriginGate()
  readonly #cuts: CutJudge
  readonly #startHold: StartHold
  readonly #ownCut: OwnCutHold
  readonly #tailWait: TailWaitOptions
  readonly #scrubber: Scrubber
  readonly #schedule: ScrubSchedule
  readonly #equivocation: EquivocationWatch
  /** The scrub running now, and the one more asked for meanwhile (scrubNow). */
  readonly #retiredSeen = new Set<string>()
  #running: Promise<ScrubResult> | undefined
  #queued: Promise<ScrubResult> | undefined

  constructor(opts: IntegrityServiceOptions) {
    this.#opts = opts
    const { self, store, logger: log } = opts
    const membership = membershipViewOf(opts.membership)
    const signal = this.#controller.signal
    const scrubNow = () => this.scrubNow()
    // Every read goes through the store's ScrubView; its writes are repairFeed and the holds.
    const replica = store.scrubView
    this.#cuts = new CutJudge({
      self,
      store: replica,
      trust: new CheckpointTrust(membership, opts.quorum),
      latestCheckpoint: opts.latestCheckpoint,
      latestHeld: opts.latestHeld,
      logger: log,
    })
    this.#startHold = new StartHold(replica, () => membership.current, this.#cuts)
    this.#ownCut = new OwnCutHold(replica, store, self, log)
    this.#tailWait = { store: replica, syncNow: opts.syncNow, tailWaitMs: opts.tailWaitMs, signal }
    const { scrubIntervalMs, retryMs } = opts
    this.#schedule = new ScrubSchedule({ scrubNow, scrubIntervalMs, retryMs, signal, log })
    this.#scrubber = new Scrubber({
      self,
      replica,
      writeRepair: (repair) => store.repairFeed(repair),
      membership: () => membership.current,
      cuts: this.#cuts,
      gate: this.#gate,
      peers: opts.peers,
      retryMs,
      awaitTail: (origin, cut) => awaitTail(this.#tailWait, origin, cut),
      onVerified: () => this.#startHold.release(),
      onJudged: (openIncidents) => this.#schedule.retryWhileOpen(openIncidents),
      emit: (incident) => this.#emit(incident),
      signal,
      log,
    })
    this.#equivocation = new EquivocationWatch({
      self,
      store: replica,
      originKey: (origin) => originKeyOf(membership.current, origin),
      publish: opts.publishEvidence,
      onIncident: (incident) => this.#emit(incident),
      onUnprovable: () => void this.scrubNow().catch(() => {}),
      logger: log,
    })
  }

  /**
   * Starts the first scrub (in the background) and the schedule. If this node's own feed is
   * shorter than the cosigned checkpoint says (its tail was rolled back), waits up to
   * `tailWaitMs` for sync to bring it back: appending first would sign a second history.
   */
  async start(): Promise<void> {
    const { self, logger: log } = this.#opts
    this.#schedule.start()
    startFirstScrub({
      held: this.#startHold.origins(),
      beforeFirstScrub: this.#opts.beforeFirstScrub,
      scrubNow: () => this.scrubNow(),
      signal: this.#controller.signal,
      log,
    })
    const own = this.#cuts.shorterThanClaimed(self)
      ? this.#cuts.trusted()?.cuts.get(self)
      : undefined
    if (own) await this.#ownCut.holdBelow(own, () => awaitTail(this.#tailWait, self, own))
  }

  /** Stops the schedule and waits for a scrub in progress (its network requests are aborted). */
  async stop(): Promise<void> {
    this.#schedule.stop()
    this.#controller.abort()
    this.#startHold.release()
    await Promise.allSettled([this.#running, this.#queued])
  }

  /** Scrubs, repairs and reports now; a call during a scrub runs once more after it. */
  scrubNow(): Promise<ScrubResult> {
    if (this.#controller.signal.aborted) return Promise.reject(new Error('integrity stopped'))
    if (!this.#running) {
      const started = performance.now()
      this.#running = this.#scrubber
        .run()
        .then((result) => this.#checkIndex(result))
        .finally(() => {
          this.#opts.onScrubbed?.(performance.now() - started)
          this.#running = undefined
          this.#ownCut.releaseIfWhole() // a repair may have restored the own feed
        })
      return this.#running
    }
    this.#queued ??= this.#running
      .catch(() => {})
      .then(() => {
        this.#queued = undefined
        return this.scrubNow()
      })
    return this.#queued
  }

  /**
   * How every batch from the network reaches the store: after a repair of its feed, and, for a
   * feed damaged at open or shorter than the checkpoint, after the first scrub named the damage
   * (start-hold.ts). A conflicting signed head becomes an equivocation incident.
   */
  async accept(batch: FeedBatch, store: () => Promise<AcceptResult>): Promise<AcceptResult> {
    const held = this.#startHold.waitFor(batch.origin)
    if (held) await held
    return this.#gate.shared(batch.origin, async () => {
      try {
        const result = await store()
        if (batch.origin === this.#opts.self) this.#ownCut.releaseIfWhole()
        return result
      } catch (err) {
        if (isEhrlogError(err, 'EQUIVOCATION')) void this.#equivocation.onConflict(batch)
        const retired = retiredKeyIncidentOf(err, batch, this.#opts.self)
        if (retired && !this.#retiredSeen.has(retired.key)) {
          this.#retiredSeen.add(retired.key)
          this.#opts.logger.error({ incident: retired.evidence }, retired.summary)
          this.#opts.onRetiredKey?.(retired)
          this.#opts.onIncident(retired)
        }
        throw err
      }
    })
  }

  /**
   * Where a divergence or an equivocation over tree heads (an alert's incident) parts from
   * this replica: the first seq whose leaf differs, proven with the conflicting history's
   * entries from the members (parting.ts). Undefined when the incident names no two roots at
   * a size, or no member proves the other history in time.
   */
  async partingOf(
    incident: { kind: string; origin: string; evidence: unknown },
    signal?: AbortSignal,
  ): Promise<{ seq: number; evidence: Record<string, unknown> } | undefined> {
    const question = partingQuestionOf(incident)
    if (!question) return undefined
    const stop = this.#controller.signal
    const parting = await findParting({
      replica: this.#opts.store.scrubView,
      peers: this.#opts.peers(),
      question,
      log: this.#opts.logger,
      signal: signal ? AbortSignal.any([signal, stop]) : stop,
    })
    return parting && { seq: parting.seq, evidence: partingToJson(parting) }
  }

  /** Handler of the 'evidence' control topic. */
  handleEvidence(data: Uint8Array, fromMember: string): boolean {
    return this.#equivocation.handle(data, fromMember)
  }

  /** Notes who delivered a stored batch (NetService.onAccepted), to credit sync repairs. */
  noteDelivered(origin: string, member: string | undefined): void {
    if (member) this.#scrubber.noteDelivered(origin, member)
  }

  /** After the replica is whole again: the index is checked against it, damage rebuilt and named. */
  async #checkIndex(result: ScrubResult): Promise<ScrubResult> {
    const index = this.#opts.index
    if (!index || this.#controller.signal.aborted) return result
    const { self, logger: log } = this.#opts
    let differed: { origin: string; treeSize: number }[]
    try {
      differed = await index.check()
    } catch (err) {
      log.error({ err: (err as Error).message }, 'the per-patient index could not be checked')
      return result
    }
    const detectedAt = new Date().toISOString()
    const incidents: IntegrityIncident[] = []
    const differedAt = new Map(differed.map((d) => [d.origin, d.treeSize]))
    for (const origin of this.#opts.store.origins()) {
      // The postings a query reads (and the index is built from at start) against the entries:
      // those missing are written anew from the entries.
      let restored: number[] = []
      try {
        restored = await this.#opts.store.patientIndex.restorePostings(origin)
      } catch (err) {
        log.error({ err: (err as Error).message, origin }, 'could not check the patient postings')
      }
      const treeSize = differedAt.get(origin)
      if (treeSize === undefined && restored.length === 0) continue
      const seqs = `${restored.slice(0, 10).join(', ')}${restored.length > 10 ? ', …' : ''}`
      const parts = [
        ...(treeSize === undefined
          ? []
          : [
              `the per-patient index of ${origin} (size ${treeSize}) did not match ${origin}'s entries: rebuilt from them`,
            ]),
        ...(restored.length === 0
          ? []
          : [
              `${restored.length} of ${origin}'s entries had no patient posting (seqs ${seqs}): restored from the entries`,
            ]),
      ]
      incidents.push({
        kind: 'index-diverged',
        key: `${origin}:${treeSize ?? `postings-${restored[0]}`}:rebuilt`,
        reportingNode: self,
        origin,
        entryIds: [],
        detectedAt,
        summary: `${self}'s replica: ${parts.join('; ')}`,
        evidence: {
          origin,
          ...(treeSize === undefined ? {} : { treeSize }),
          restoredPostings: restored,
        },
        repaired: { from: self, entryIds: [], local: true },
      })
    }
    for (const incident of incidents) {
      log.error({ origin: incident.origin, treeSize: incident.evidence.treeSize }, incident.summary)
      this.#emit(incident)
    }
    return incidents.length === 0
      ? result
      : { ...result, incidents: [...result.incidents, ...incidents] }
  }

  /** Hands an incident over; a throwing listener must not stop a scrub. */
  #emit(incident: IntegrityIncident): void {
    try {
      this.#opts.onIncident(incident)
    } catch (err) {
      this.#opts.logger.error({ err: (err as Error).message }, 'onIncident listener threw')
    }
  }
}
