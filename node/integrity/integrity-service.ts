import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import { isEhrlogError } from '../core/errors.ts'
import { fromHex } from '../core/hex.ts'
import type { Membership } from '../core/trust/index.ts'
import type { Logger } from '../logger.ts'
import type {
  AcceptResult,
  FeedBatch,
  KnownHead,
  LogStore,
  Problem,
  VerifyReport,
} from '../store/index.ts'
import { CheckpointTrust, type TrustedCuts } from './checkpoint-trust.ts'
import {
  attributeAfterRepair,
  type DamageSnapshot,
  damageIncident,
  snapshotDamage,
} from './damage-report.ts'
import { EquivocationWatch } from './equivocation-watch.ts'
import { groupProblems, type IntegrityIncident, type ProblemGroup } from './incident.ts'
import { OriginGate } from './origin-gate.ts'
import { type FeedRepairOutcome, type RepairPeer, repairFromPeers } from './repairer.ts'

export interface IntegrityServiceOptions {
  /** This node's member name. */
  self: string
  store: LogStore
  membership: Membership
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
}

export interface ScrubResult {
  /** The scrub before any repair. */
  report: VerifyReport
  /** Incidents this scrub reported (incidents still open from an earlier scrub are not repeated). */
  incidents: IntegrityIncident[]
  /** The replica after the repairs; `report` itself when nothing was wrong. */
  after: VerifyReport
}

/** Repair passes per scrub: a second pass fixes heads only a repaired entry exposes. */
const MAX_PASSES = 3

/**
 * Detection and self-repair (docs/architecture.md, "Detection and repair"): scrubs the replica
 * against the latest cosigned checkpoint at start, periodically and on demand, repairs what it
 * finds from peers (only with data proven into a trusted root), reports each incident once
 * with whether it was repaired, and watches for equivocation by any origin.
 */
export class IntegrityService {
  readonly #opts: IntegrityServiceOptions
  readonly #log: Logger
  readonly #gate = new OriginGate()
  readonly #trust: CheckpointTrust
  readonly #equivocation: EquivocationWatch
  readonly #controller = new AbortController()
  /** Incidents reported and not yet repaired, by kind, origin and fingerprint. */
  readonly #open = new Set<string>()
  /** The member that last delivered an accepted batch of each origin (credit for sync repairs). */
  readonly #deliveredBy = new Map<string, string>()
  #running: Promise<ScrubResult> | undefined
  #queued: Promise<ScrubResult> | undefined
  #timer: NodeJS.Timeout | undefined
  #retry: NodeJS.Timeout | undefined
  #retryDelayMs = 0
  #firstScrubDone = false
  /** Feeds whose batches wait for the first scrub (#heldAtStart). */
  #heldOrigins: Set<string> | undefined
  /** The cosigned size of the own feed while appends are held for it (start()). */
  #ownCut: number | undefined
  #releaseHold: () => void = () => {}
  readonly #hold: Promise<void>

  constructor(opts: IntegrityServiceOptions) {
    this.#opts = opts
    this.#log = opts.logger
    this.#trust = new CheckpointTrust(opts.membership, opts.quorum)
    this.#hold = new Promise((resolve) => {
      this.#releaseHold = resolve
    })
    this.#equivocation = new EquivocationWatch({
      self: opts.self,
      store: opts.store,
      originKey: (origin) => this.#originKey(origin),
      publish: opts.publishEvidence,
      onIncident: (incident) => this.#emit(incident),
      onUnprovable: () => void this.scrubNow().catch(() => {}),
      logger: opts.logger,
    })
  }

  /**
   * Starts the first scrub (in the background) and the schedule. If this node's own feed is
   * shorter than the cosigned checkpoint says (its tail was rolled back), waits up to
   * `tailWaitMs` for sync to bring it back: appending first would sign a second history.
   */
  async start(): Promise<void> {
    const interval = this.#opts.scrubIntervalMs ?? 10 * 60_000
    if (interval > 0) {
      this.#timer = setInterval(() => {
        void this.scrubNow().catch((err: unknown) =>
          this.#log.error({ err: (err as Error).message }, 'scheduled scrub failed'),
        )
      }, interval)
    }
    this.#heldOrigins ??= this.#originsHeld()
    const wait = this.#heldOrigins.size > 0 ? undefined : this.#opts.beforeFirstScrub
    void (wait ? wait() : Promise.resolve())
      .then(() => (this.#controller.signal.aborted ? undefined : this.scrubNow()))
      .catch((err: unknown) =>
        this.#log.error({ err: (err as Error).message }, 'startup scrub failed'),
      )
    const { store, self } = this.#opts
    const own = this.#shorterThanClaimed(self) ? this.#cuts()?.cuts.get(self) : undefined
    if (own && store.size(self) < own.treeSize) {
      this.#log.error(
        { have: store.size(self), cosigned: own.treeSize },
        'own feed is shorter than the cosigned checkpoint: pulling it back before appending',
      )
      // Held until the feed is whole again, however long that takes: appending now would sign
      // new entries at seqs the network already holds signed (an equivocation).
      store.holdAppends(
        self,
        `its feed has ${store.size(self)} entries but the network cosigned ${own.treeSize}; waiting for peers to restore them (retry later)`,
      )
      this.#ownCut = own.treeSize
      await this.#awaitTail(self, own)
      this.#releaseOwnHoldIfWhole()
    }
  }

  /** Lifts the append hold of start() once sync or repair brought the own feed back. */
  #releaseOwnHoldIfWhole(): void {
    const { store, self } = this.#opts
    if (this.#ownCut === undefined || store.size(self) < this.#ownCut) return
    store.releaseAppends(self)
    this.#ownCut = undefined
    this.#log.info({ size: store.size(self) }, 'own feed restored: appending again')
  }

  /** Stops the schedule and waits for a scrub in progress (its network requests are aborted). */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    clearTimeout(this.#retry)
    this.#controller.abort()
    this.#releaseHold()
    await Promise.allSettled([this.#running, this.#queued])
  }

  /** Scrubs, repairs and reports now; a call during a scrub runs once more after it. */
  scrubNow(): Promise<ScrubResult> {
    if (this.#controller.signal.aborted) return Promise.reject(new Error('integrity stopped'))
    if (!this.#running) {
      const started = performance.now()
      this.#running = this.#scrub().finally(() => {
        this.#opts.onScrubbed?.(performance.now() - started)
        this.#running = undefined
        this.#releaseOwnHoldIfWhole() // a repair may have restored the own feed
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
   * (sync would otherwise paper over it unseen). A conflicting signed head becomes an
   * equivocation incident.
   */
  async accept(batch: FeedBatch, store: () => Promise<AcceptResult>): Promise<AcceptResult> {
    if (this.#heldAtStart(batch.origin)) await this.#hold
    return this.#gate.shared(batch.origin, async () => {
      try {
        const result = await store()
        if (batch.origin === this.#opts.self) this.#releaseOwnHoldIfWhole()
        return result
      } catch (err) {
        if (isEhrlogError(err, 'EQUIVOCATION')) void this.#equivocation.onConflict(batch)
        throw err
      }
    })
  }

  /** Handler of the 'evidence' control topic. */
  handleEvidence(data: Uint8Array, fromMember: string): boolean {
    return this.#equivocation.handle(data, fromMember)
  }

  /** Notes who delivered a stored batch (NetService.onAccepted), to credit sync repairs. */
  noteDelivered(origin: string, member: string | undefined): void {
    if (member) this.#deliveredBy.set(origin, member)
  }

  async #scrub(): Promise<ScrubResult> {
    const { store } = this.#opts
    const trusted = this.#judgedCuts()
    const verifyOptions = trusted ? { knownHeads: trusted.cuts } : {}
    const report = await store.verify(verifyOptions)
    const detectedAt = new Date().toISOString()
    this.#firstScrubDone = true
    this.#releaseHold()
    for (const p of report.problems)
      if (p.kind === 'unreadable-feed') this.#log.error({ problem: p }, p.message)
    const groups = groupProblems(report.problems)
    if (groups.length === 0) {
      this.#open.clear()
      return { report, incidents: [], after: report }
    }
    const seen = await Promise.all(groups.map((g) => snapshotDamage(store, g)))
    const outcomes = new Map<string, FeedRepairOutcome[]>()
    let after = report
    for (let pass = 0; pass < MAX_PASSES && !this.#controller.signal.aborted; pass++) {
      const damaged = new Map<string, Problem[]>()
      for (const p of after.problems) {
        if (p.kind === 'unreadable-feed' || !groups.some((g) => g.origin === p.origin)) continue
        const list = damaged.get(p.origin)
        if (list) list.push(p)
        else damaged.set(p.origin, [p])
      }
      if (damaged.size === 0) break
      let progress = false
      for (const [origin, problems] of damaged) {
        const outcome = await this.#repair(origin, problems, trusted)
        if (!outcome) continue
        outcomes.set(origin, [...(outcomes.get(origin) ?? []), outcome])
        const written = outcome.result
        if (written && written.entries.length + written.heads.length + written.deleted.length > 0)
          progress = true
        const cut = trusted?.cuts.get(origin)
        if (outcome.tailFrom !== undefined && cut) {
          const before = store.size(origin)
          await this.#awaitTail(origin, cut)
          if (store.size(origin) > before) progress = true
        }
      }
      if (!progress) break
      after = await store.verify(verifyOptions)
    }
    // Sync may have restored a feed damaged at open meanwhile: judge the replica as it is now.
    if (after === report && outcomes.size > 0) after = await store.verify(verifyOptions)
    const incidents: IntegrityIncident[] = []
    // Open from now on: what this scrub still finds unrepaired (old fingerprints lapse).
    const wasOpen = new Set(this.#open)
    this.#open.clear()
    for (const [i, group] of groups.entries()) {
      const incident = await this.#incidentOf(group, seen[i]!, wasOpen, {
        detectedAt,
        trusted,
        outcomes,
        after,
      })
      if (incident) incidents.push(incident)
    }
    for (const incident of incidents) {
      this.#log.error({ incident: { ...incident, evidence: undefined } }, incident.summary)
      this.#emit(incident)
    }
    this.#retryWhileOpen()
    return { report, incidents, after }
  }

  /** The incident of a group, or undefined when it was reported already and nothing changed. */
  async #incidentOf(
    scrubbed: ProblemGroup,
    { fingerprint, values }: DamageSnapshot,
    open: ReadonlySet<string>,
    scrub: {
      detectedAt: string
      trusted: TrustedCuts | undefined
      outcomes: ReadonlyMap<string, FeedRepairOutcome[]>
      after: VerifyReport
    },
  ): Promise<IntegrityIncident | undefined> {
    const { trusted, outcomes, after } = scrub
    const { origin } = scrubbed
    const repaired = !after.problems.some((p) => p.origin === origin)
    const openKey = `${scrubbed.kind}:${origin}:${fingerprint}`
    const wasOpen = open.has(openKey)
    if (!repaired) this.#open.add(openKey)
    if (!repaired && wasOpen) return undefined
    const tried = outcomes.get(origin) ?? []
    return damageIncident({
      self: this.#opts.self,
      group: repaired ? await attributeAfterRepair(this.#opts.store, scrubbed, values) : scrubbed,
      repairedFrom: repaired
        ? (tried.flatMap((o) => o.from)[0] ?? this.#deliveredBy.get(origin) ?? this.#opts.self)
        : undefined,
      // A follow-up to an incident reported unrepaired is a new incident for the alerts.
      key: wasOpen ? `${fingerprint}:repaired` : fingerprint,
      detectedAt: scrub.detectedAt,
      trusted,
      tried,
    })
  }

  /** Hands an incident over; a throwing listener must not stop a scrub. */
  #emit(incident: IntegrityIncident): void {
    try {
      this.#opts.onIncident(incident)
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'onIncident listener threw')
    }
  }

  /** While an incident is unrepaired, scrubs again soon (peers may have been away). */
  #retryWhileOpen(): void {
    clearTimeout(this.#retry)
    if (this.#open.size === 0 || this.#controller.signal.aborted) {
      this.#retryDelayMs = 0
      return
    }
    const first = this.#opts.retryMs ?? 5000
    const cap = Math.max(first, this.#opts.scrubIntervalMs || 10 * 60_000)
    this.#retryDelayMs = Math.min(cap, this.#retryDelayMs ? this.#retryDelayMs * 2 : first)
    this.#retry = setTimeout(() => {
      void this.scrubNow().catch(() => {})
    }, this.#retryDelayMs)
  }

  /** Connected members; at start the links may still be coming up, so wait a little for one. */
  async #connectedPeers(): Promise<RepairPeer[]> {
    const deadline = Date.now() + (this.#opts.retryMs ?? 5000)
    let peers = this.#opts.peers()
    while (peers.length === 0 && Date.now() < deadline && !this.#controller.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      peers = this.#opts.peers()
    }
    return peers
  }

  async #repair(
    origin: string,
    problems: readonly Problem[],
    trusted: TrustedCuts | undefined,
  ): Promise<FeedRepairOutcome | undefined> {
    if (!this.#opts.membership.byName(origin)) return undefined
    const peers = await this.#connectedPeers()
    // The origin is the authority on its own feed: ask it first.
    peers.sort((a, b) => Number(b.name === origin) - Number(a.name === origin))
    try {
      return await repairFromPeers({
        store: this.#opts.store,
        origin,
        problems,
        cut: trusted?.cuts.get(origin),
        originKey: this.#originKey(origin),
        peers,
        exclusive: (fn) => this.#gate.exclusive(origin, fn),
        log: this.#log,
        signal: this.#controller.signal,
      })
    } catch (err) {
      this.#log.error({ origin, err: (err as Error).message }, 'repair failed: nothing written')
      return undefined
    }
  }

  /** Pulls by sync until `origin` reaches the cut's size, or `tailWaitMs` passes. */
  async #awaitTail(origin: string, cut: KnownHead): Promise<void> {
    const deadline = Date.now() + (this.#opts.tailWaitMs ?? 15_000)
    let nextSync = 0
    while (this.#opts.store.size(origin) < cut.treeSize && Date.now() < deadline) {
      if (this.#controller.signal.aborted) return
      if (Date.now() >= nextSync) {
        void this.#opts.syncNow().catch(() => {})
        nextSync = Date.now() + 2000
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  #heldAtStart(origin: string): boolean {
    if (this.#firstScrubDone) return false
    this.#heldOrigins ??= this.#originsHeld()
    return this.#heldOrigins.has(origin)
  }

  /**
   * Feeds damaged at open, or shorter than the checkpoint this node held when it started.
   * Judged once: a checkpoint gossiped later is ahead of a node that is catching up, which is
   * no damage, and holding that feed's batches for the first scrub would stall the catch-up
   * that scrub waits for.
   */
  #originsHeld(): Set<string> {
    const { store, membership } = this.#opts
    const cuts = this.#shorterThanClaimed() ? this.#judgedCuts()?.cuts : undefined
    const held = new Set<string>()
    for (const { name } of membership.members) {
      const cut = cuts?.get(name)
      if (store.damageOf(name) !== undefined || (cut && store.size(name) < cut.treeSize))
        held.add(name)
    }
    return held
  }

  /**
   * Whether a feed (`origin`'s, or any) is shorter than the latest checkpoint claims, before
   * its cosignature is checked. Only such a feed can be held back by the checkpoint, so when
   * none is, a start leaves the check (~0.1 s of pairings on this thread) to the first scrub,
   * which makes it before it trusts any cut.
   */
  #shorterThanClaimed(origin?: string): boolean {
    const feeds = this.#opts.latestCheckpoint()?.checkpoint.feeds ?? []
    const { store } = this.#opts
    return feeds.some(
      (f) => (origin === undefined || f.origin === origin) && store.size(f.origin) < f.treeSize,
    )
  }

  /**
   * The cuts a scrub holds this replica to: those of feeds it held when it adopted the
   * checkpoint, and its own feed, which it wrote. Another origin's feed that was behind the
   * cut then (the checkpoint came before its entries) is behind, not truncated: its cut is
   * left out until the replica reaches it, and from then on its root is checked as usual.
   */
  #judgedCuts(): TrustedCuts | undefined {
    const trusted = this.#cuts()
    const held = this.#opts.latestHeld?.()
    if (!trusted || !held) return trusted
    const { self, store } = this.#opts
    const cuts = new Map(
      [...trusted.cuts].filter(
        ([origin, cut]) =>
          origin === self || held.has(origin) || store.size(origin) >= cut.treeSize,
      ),
    )
    return { ...trusted, cuts }
  }

  #cuts(): TrustedCuts | undefined {
    try {
      return this.#trust.cutsOf(this.#opts.latestCheckpoint())
    } catch (err) {
      this.#log.error(
        { err: (err as Error).message },
        'the stored checkpoint does not verify: scrubbing without it',
      )
      return undefined
    }
  }

  #originKey(origin: string): Uint8Array | undefined {
    const hex = this.#opts.membership.byName(origin)?.ed25519PublicKey
    return hex ? fromHex(hex, 32) : undefined
  }
}
