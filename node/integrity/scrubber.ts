import type { Membership } from '../core/trust/index.ts'
import type { Logger } from '../logger.ts'
import type {
  FeedRepair,
  FeedRepairResult,
  Problem,
  ScrubView,
  VerifyReport,
} from '../store/index.ts'
import { originKeyOf, type TrustedCuts } from './checkpoint-trust.ts'
import type { CutJudge } from './cut-judge.ts'
import {
  attributeAfterRepair,
  type DamageSnapshot,
  damageIncident,
  snapshotDamage,
} from './damage-report.ts'
import { groupProblems, type IntegrityIncident, type ProblemGroup } from './incident.ts'
import type { OriginGate } from './origin-gate.ts'
import { type FeedRepairOutcome, type RepairPeer, repairFromPeers } from './repairer.ts'

export interface ScrubResult {
  /** The scrub before any repair. */
  report: VerifyReport
  /** Incidents this scrub reported (incidents still open from an earlier scrub are not repeated). */
  incidents: IntegrityIncident[]
  /** The replica after the repairs; `report` itself when nothing was wrong. */
  after: VerifyReport
}

export interface ScrubberOptions {
  self: string
  replica: ScrubView
  /** The replica's one write (LogStore.repairFeed). */
  writeRepair: (repair: FeedRepair) => Promise<FeedRepairResult>
  /** The version in force (LiveMembership.current): whose feeds are repaired, with which key. */
  membership: () => Membership
  cuts: CutJudge
  /** Repairs hold a feed alone; accepted batches share it (IntegrityService.accept). */
  gate: OriginGate
  peers: () => RepairPeer[]
  /** How long a repair waits for a first peer (IntegrityServiceOptions.retryMs, default 5 s). */
  retryMs: number | undefined
  /** Waits for sync to refill a tail cut below the checkpoint (tail-wait.ts). */
  awaitTail: (origin: string, cut: { treeSize: number; root: Uint8Array }) => Promise<void>
  /** After a scrub's verify and its snapshot of the damage, before any repair (StartHold.release). */
  onVerified: () => void
  /** After a scrub that found damage, with the incidents it left open (ScrubSchedule). */
  onJudged: (openIncidents: number) => void
  emit: (incident: IntegrityIncident) => void
  signal: AbortSignal
  log: Logger
}

interface OpenIncident {
  group: ProblemGroup
  fingerprint: string
  values: ReadonlyMap<number, Buffer | undefined>
  detectedAt: string
}

/** Repair passes per scrub: a second pass fixes heads only a repaired entry exposes. */
const MAX_PASSES = 3

/**
 * One scrub: verifies the replica against the cuts it is held to, repairs what it finds from
 * peers (only with data proven into a trusted root), and reports each incident once with
 * whether it was repaired. Keeps which incidents are still open between scrubs.
 */
export class Scrubber {
  readonly #opts: ScrubberOptions
  /** Incidents reported and not yet repaired, by kind, origin and fingerprint. */
  readonly #open = new Set<string>()
  /** What each open incident was, for its follow-up when the damage goes away by other means. */
  readonly #openIncidents = new Map<string, OpenIncident>()
  /** The member that last delivered an accepted batch of each origin (credit for sync repairs). */
  readonly #deliveredBy = new Map<string, string>()

  constructor(opts: ScrubberOptions) {
    this.#opts = opts
  }

  /** Notes who delivered a stored batch, to credit sync repairs. */
  noteDelivered(origin: string, member: string): void {
    this.#deliveredBy.set(origin, member)
  }

  async run(): Promise<ScrubResult> {
    const { replica, signal } = this.#opts
    const trusted = this.#opts.cuts.judged()
    const verifyOptions = trusted ? { knownHeads: trusted.cuts } : {}
    const report = await replica.verify(verifyOptions)
    const detectedAt = new Date().toISOString()
    for (const p of report.problems)
      if (p.kind === 'unreadable-feed') this.#opts.log.error({ problem: p }, p.message)
    const groups = groupProblems(report.problems)
    if (groups.length === 0) {
      this.#opts.onVerified()
      const incidents = await this.#vanished(groups, trusted)
      this.#open.clear()
      this.#report(incidents)
      return { report, incidents, after: report }
    }
    const seen = await Promise.all(groups.map((g) => snapshotDamage(replica, g)))
    // Only now may sync refill a feed held since start: the snapshot is the damage as found.
    this.#opts.onVerified()
    const outcomes = new Map<string, FeedRepairOutcome[]>()
    let after = report
    for (let pass = 0; pass < MAX_PASSES && !signal.aborted; pass++) {
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
          const before = replica.size(origin)
          await this.#opts.awaitTail(origin, cut)
          if (replica.size(origin) > before) progress = true
        }
      }
      if (!progress) break
      after = await replica.verify(verifyOptions)
    }
    // Sync may have restored a feed damaged at open meanwhile: judge the replica as it is now.
    if (after === report && outcomes.size > 0) after = await replica.verify(verifyOptions)
    const incidents: IntegrityIncident[] = await this.#vanished(groups, trusted)
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
    this.#report(incidents)
    this.#opts.onJudged(this.#open.size)
    return { report, incidents, after }
  }

  #report(incidents: readonly IntegrityIncident[]): void {
    for (const incident of incidents) {
      this.#opts.log.error({ incident: { ...incident, evidence: undefined } }, incident.summary)
      this.#opts.emit(incident)
    }
  }

  /**
   * Follow-ups of open incidents whose origin and kind this scrub finds clean: the damage went
   * away without a repair of this scrub (sync refilled a tail, an earlier pass or another
   * path restored it). Without this the admins would hold "not repaired yet" for good.
   */
  async #vanished(
    groups: readonly ProblemGroup[],
    trusted: TrustedCuts | undefined,
  ): Promise<IntegrityIncident[]> {
    const out: IntegrityIncident[] = []
    for (const [openKey, open] of this.#openIncidents) {
      const { group } = open
      if (groups.some((g) => g.origin === group.origin && g.kind === group.kind)) continue
      this.#openIncidents.delete(openKey)
      const from = this.#deliveredBy.get(group.origin)
      out.push(
        damageIncident({
          self: this.#opts.self,
          group: await attributeAfterRepair(this.#opts.replica, group, open.values),
          repairedFrom: from ?? this.#opts.self,
          ...(from === undefined ? { repairedHere: { removed: [] } } : {}),
          key: `${open.fingerprint}:repaired`,
          detectedAt: open.detectedAt,
          trusted,
          tried: [],
        }),
      )
    }
    return out
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
    // The incident reported unrepaired that this damage continues: the same fingerprint, or,
    // when this scrub repaired it, any open one of its kind and origin (sync may have replaced
    // some records between an earlier scrub and this one's snapshot). Its follow-up names
    // what it first saw, as first seen.
    const prior = open.has(openKey)
      ? this.#openIncidents.get(openKey)
      : repaired
        ? [...this.#openIncidents.entries()].find(
            ([key]) => open.has(key) && key.startsWith(`${scrubbed.kind}:${origin}:`),
          )?.[1]
        : undefined
    const wasOpen = prior !== undefined
    if (!repaired) {
      this.#open.add(openKey)
      // Still open: kept as first seen (the follow-up names what that scrub saw).
      if (!prior)
        this.#openIncidents.set(openKey, {
          group: scrubbed,
          fingerprint,
          values,
          detectedAt: scrub.detectedAt,
        })
    } else this.#openIncidents.delete(openKey)
    // An incident superseded by other damage of the same origin and kind is reported anew.
    for (const key of this.#openIncidents.keys())
      if (!this.#open.has(key) && key.startsWith(`${scrubbed.kind}:${origin}:`))
        this.#openIncidents.delete(key)
    if (!repaired && wasOpen) return undefined
    const tried = outcomes.get(origin) ?? []
    const { self, replica } = this.#opts
    // Who repaired it: the first peer whose proven data was written; else, when something was
    // written or refilled (a tail by sync), the member that delivered; else this node alone,
    // which only removed inserted records (never "repaired from" itself).
    const removed = tried.flatMap((o) => o.result?.deleted ?? []).map((seq) => `${origin}:${seq}`)
    const refilled = tried.some(
      (o) =>
        (o.result?.entries.length ?? 0) + (o.result?.heads.length ?? 0) > 0 ||
        o.tailFrom !== undefined,
    )
    const peer =
      tried.flatMap((o) => o.from)[0] ??
      (refilled || removed.length === 0 ? this.#deliveredBy.get(origin) : undefined)
    const seen = prior ? new Map([...values, ...prior.values]) : values
    return damageIncident({
      self,
      group: repaired
        ? await attributeAfterRepair(
            replica,
            prior ? mergeGroups(prior.group, scrubbed) : scrubbed,
            seen,
            tried.flatMap((o) => o.result?.entries ?? []),
          )
        : scrubbed,
      repairedFrom: repaired ? (peer ?? self) : undefined,
      ...(repaired && (peer === undefined || peer === self) ? { repairedHere: { removed } } : {}),
      // A follow-up to an incident reported unrepaired is a new incident for the alerts.
      key: prior ? `${prior.fingerprint}:repaired` : fingerprint,
      detectedAt: scrub.detectedAt,
      trusted,
      tried,
    })
  }

  /** Connected members; at start the links may still be coming up, so wait a little for one. */
  async #connectedPeers(): Promise<RepairPeer[]> {
    const deadline = Date.now() + (this.#opts.retryMs ?? 5000)
    let peers = this.#opts.peers()
    while (peers.length === 0 && Date.now() < deadline && !this.#opts.signal.aborted) {
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
    const { gate, log } = this.#opts
    const membership = this.#opts.membership()
    if (!membership.byName(origin)) return undefined
    const peers = await this.#connectedPeers()
    // The origin is the authority on its own feed: ask it first.
    peers.sort((a, b) => Number(b.name === origin) - Number(a.name === origin))
    try {
      return await repairFromPeers({
        replica: this.#opts.replica,
        writeRepair: this.#opts.writeRepair,
        origin,
        problems,
        cut: trusted?.cuts.get(origin),
        originKey: originKeyOf(membership, origin),
        peers,
        exclusive: (fn) => gate.exclusive(origin, fn),
        log,
        signal: this.#opts.signal,
      })
    } catch (err) {
      log.error({ origin, err: (err as Error).message }, 'repair failed: nothing written')
      return undefined
    }
  }
}

/** The problems of both, each once (the first scrub's kept where both name one). */
function mergeGroups(first: ProblemGroup, later: ProblemGroup): ProblemGroup {
  const seen = new Set<string>()
  const problems = [...first.problems, ...later.problems].filter((p) => {
    const id = `${p.kind}:${p.seq ?? ''}:${p.treeSize ?? ''}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
  return { ...first, problems }
}
