import type { Incident } from '../alerts/index.ts'
import type { Logger } from '../logger.ts'

export interface QuorumWatchOptions {
  self: string
  /**
   * The other members' names; a function is read at each look (the membership in force: a
   * member removed is no longer watched, one added is from then on).
   */
  members: readonly string[] | (() => readonly string[])
  /** Cosigners a checkpoint needs (this node included); a function is read at each look. */
  quorum: number | (() => number)
  /** config.json `alerts.memberSilenceMs`: a member not connected this long is reported. */
  memberSilenceMs: number
  /** config.json `alerts.quorumStallRounds`: checkpoint intervals with changes and no checkpoint. */
  stallRounds: number
  /** The checkpoint round interval; 0 (rounds on demand only): stalls are not watched. */
  checkpointIntervalMs: number
  /** Names of the members connected now. */
  connected(): ReadonlySet<string>
  /** Whether this replica holds entries the newest cosigned checkpoint does not cover. */
  uncheckpointed(): boolean
  /** Time of the newest cosigned checkpoint, epoch ms. */
  latestCheckpointMs(): number | undefined
  /** Hands the incident to the alert service (which emails and records it). */
  report(incident: Incident): void
  logger: Logger
  /** How often to look (default: a tenth of the shorter threshold, 1-10 s). */
  checkEveryMs?: number
  now?: () => number
}

interface Trouble {
  /** Silent members, each with the time it was last connected (or the watch started). */
  silent: Array<{ name: string; sinceMs: number }>
  /** Since when changes wait for a checkpoint, when that is past the stall threshold. */
  stalledSinceMs: number | undefined
}

/**
 * Watches the network's health as a member sees it, and tells the admins once when it
 * degrades (a member silent past memberSilenceMs, or checkpoints stalled for stallRounds
 * intervals) and once when it has recovered. One degraded spell is one email, however many
 * members fall silent during it; its start time keys both incidents.
 */
export class QuorumWatch {
  readonly #opts: QuorumWatchOptions
  readonly #now: () => number
  readonly #lastHeard = new Map<string, number>()
  #pendingSinceMs: number | undefined
  #checkpointMs: number | undefined
  /** The degraded spell under way: its start and what was reported. */
  #spell: { startMs: number; summary: string; origin: string } | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(opts: QuorumWatchOptions) {
    this.#opts = opts
    this.#now = opts.now ?? Date.now
  }

  #members(): readonly string[] {
    const { members } = this.#opts
    return typeof members === 'function' ? members() : members
  }

  /** Starts the clock: members are silent from now until they connect. */
  async start(): Promise<void> {
    if (this.#timer) return
    const now = this.#now()
    for (const name of this.#members()) this.#lastHeard.set(name, now)
    this.#checkpointMs = this.#opts.latestCheckpointMs()
    const shortest = Math.min(
      this.#opts.memberSilenceMs,
      this.#opts.checkpointIntervalMs > 0 ? this.#opts.checkpointIntervalMs : Infinity,
    )
    const every = this.#opts.checkEveryMs ?? Math.min(10_000, Math.max(1000, shortest / 10))
    this.#timer = setInterval(() => this.check(), every)
    this.#timer.unref()
  }

  /** Idempotent. A spell under way is not reported as recovered: nothing is known of it. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Looks once (the timer calls this; tests may too). */
  check(): void {
    const now = this.#now()
    const trouble = this.#trouble(now)
    const degraded = trouble.silent.length > 0 || trouble.stalledSinceMs !== undefined
    if (degraded && !this.#spell) {
      const startMs = Math.min(
        ...trouble.silent.map((s) => s.sinceMs),
        trouble.stalledSinceMs ?? now,
      )
      const summary = this.#describe(trouble)
      const origin = trouble.silent[0]?.name ?? this.#opts.self
      this.#spell = { startMs, summary, origin }
      this.#report('quorum-degraded', startMs, origin, summary, trouble)
    } else if (!degraded && this.#spell) {
      const { startMs, summary, origin } = this.#spell
      this.#spell = undefined
      const recovered =
        `recovered at ${iso(now)}: all ${this.#members().length + 1} members reachable` +
        `${this.#opts.checkpointIntervalMs > 0 ? ', checkpoints cosigned' : ''}` +
        ` (since ${iso(startMs)}: ${summary})`
      this.#report('quorum-recovered', startMs, origin, recovered, trouble)
    }
  }

  #trouble(now: number): Trouble {
    const connected = this.#opts.connected()
    const silent: Trouble['silent'] = []
    for (const name of this.#members()) {
      if (connected.has(name) || !this.#lastHeard.has(name)) this.#lastHeard.set(name, now)
      const sinceMs = this.#lastHeard.get(name) ?? now
      if (now - sinceMs >= this.#opts.memberSilenceMs) silent.push({ name, sinceMs })
    }
    // Pending since: the first look that found entries without a checkpoint, reset by each
    // new checkpoint. Quiet networks have nothing to cosign and never stall.
    const latest = this.#opts.latestCheckpointMs()
    if (latest !== this.#checkpointMs) {
      this.#checkpointMs = latest
      this.#pendingSinceMs = undefined
    }
    const interval = this.#opts.checkpointIntervalMs
    if (interval <= 0 || !this.#opts.uncheckpointed()) this.#pendingSinceMs = undefined
    else this.#pendingSinceMs ??= now
    const pending = this.#pendingSinceMs
    const stalled = pending !== undefined && now - pending >= this.#opts.stallRounds * interval
    return { silent, stalledSinceMs: stalled ? pending : undefined }
  }

  #describe(trouble: Trouble): string {
    const members = this.#members()
    const quorum = typeof this.#opts.quorum === 'function' ? this.#opts.quorum() : this.#opts.quorum
    const total = members.length + 1
    const reachable = total - trouble.silent.length
    const parts = trouble.silent.map((s) => `member ${s.name} unreachable since ${iso(s.sinceMs)}`)
    const count = `${reachable} of ${total} members reachable, ${quorum} needed`
    if (trouble.stalledSinceMs !== undefined)
      parts.push(
        `checkpoints stalled since ${iso(trouble.stalledSinceMs)} (${this.#opts.stallRounds} rounds): ${count}`,
      )
    else if (this.#opts.checkpointIntervalMs > 0)
      parts.push(`checkpoints ${reachable >= quorum ? 'still possible' : 'at risk'}: ${count}`)
    else parts.push(count)
    return parts.join('; ')
  }

  #report(
    kind: 'quorum-degraded' | 'quorum-recovered',
    startMs: number,
    origin: string,
    summary: string,
    trouble: Trouble,
  ): void {
    this.#opts.logger[kind === 'quorum-degraded' ? 'error' : 'info']({ kind }, summary)
    this.#opts.report({
      kind,
      // One spell, one pair of emails: both keyed by when it began.
      key: iso(startMs),
      reportingNode: this.#opts.self,
      origin,
      entryIds: [],
      detectedAt: iso(this.#now()),
      summary,
      evidence: {
        silent: trouble.silent.map((s) => ({ member: s.name, since: iso(s.sinceMs) })),
        stalledSince: trouble.stalledSinceMs === undefined ? null : iso(trouble.stalledSinceMs),
        quorum: this.#opts.quorum,
        members: this.#opts.members.length + 1,
      },
    })
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
