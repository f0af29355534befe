import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** What the gauges read at each scrape, from the parts node.ts owns. */
export interface MetricSources {
  /** Entries held per origin (LogStore.sizes). */
  sizes(): ReadonlyMap<string, number>
  /** Members of the network other than this node. */
  memberCount(): number
  /** Members connected now. */
  connectedMembers(): number
  /** Time of the newest cosigned checkpoint, epoch ms; undefined before the first. */
  latestCheckpointMs(): number | undefined
  /** Alert emails waiting for the SMTP server (AlertService.pending). */
  alertQueueLength(): number
}

/** Seconds, from 1 ms to 10 s: an append batch, a query, a round. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Seconds, from 0.1 s to 30 min: a scrub reads the whole replica. */
const SCRUB_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800]

/**
 * The node's Prometheus metrics, in a registry of its own (several nodes can run in one
 * process, as in the tests). Labels are origins (hospital names), incident kinds and
 * outcomes only: never a patient, a user or an entry id, so a scrape reveals nothing that
 * the network's membership file does not.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  #sources: MetricSources | undefined
  /** The largest size of each origin's feed that a member's state vector announced. */
  readonly #announced = new Map<string, number>()
  readonly #events: Counter
  readonly #batches: Counter
  readonly #appendSeconds: Histogram
  readonly #roundSeconds: Histogram<'outcome'>
  readonly #scrubSeconds: Histogram
  readonly #incidents: Counter<'kind'>
  readonly #queries: Counter<'outcome'>
  readonly #querySeconds: Histogram<'outcome'>
  readonly #syslogMessages: Counter<'sender' | 'outcome'>

  constructor() {
    const registers = [this.registry]
    this.#events = new Counter({
      name: 'ehrlog_events_appended_total',
      help: "Audit events appended to this node's own feed.",
      registers,
    })
    this.#batches = new Counter({
      name: 'ehrlog_batches_appended_total',
      help: "Append batches (one signed tree head each) written to this node's own feed.",
      registers,
    })
    this.#appendSeconds = new Histogram({
      name: 'ehrlog_append_duration_seconds',
      help: 'Time to append one batch durably: encode, write, sign its tree head.',
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.#roundSeconds = new Histogram({
      name: 'ehrlog_checkpoint_round_duration_seconds',
      help: 'Checkpoint rounds this node proposed, from proposal to cosigned or timed out.',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.#scrubSeconds = new Histogram({
      name: 'ehrlog_scrub_duration_seconds',
      help: 'Scrubs of the replica (verify every feed, repair, report).',
      buckets: SCRUB_BUCKETS,
      registers,
    })
    this.#incidents = new Counter({
      name: 'ehrlog_incidents_total',
      help: 'Incidents reported to the admins, by kind.',
      labelNames: ['kind'],
      registers,
    })
    this.#queries = new Counter({
      name: 'ehrlog_queries_total',
      help: 'Verified queries, by outcome (answered, or the error code).',
      labelNames: ['outcome'],
      registers,
    })
    this.#querySeconds = new Histogram({
      name: 'ehrlog_query_duration_seconds',
      help: 'Time to answer a verified query, by outcome.',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.#syslogMessages = new Counter({
      name: 'ehrlog_syslog_messages_total',
      help: 'ATNA syslog messages by sender (certificate CN, or udp:ADDRESS) and outcome: received, appended, refused.',
      labelNames: ['sender', 'outcome'],
      registers,
    })
    this.#defineGauges(registers)
  }

  /** `n` ATNA syslog messages of `sender` (a certificate CN, never patient data) had `outcome`. */
  syslogMessages(sender: string, outcome: string, n: number): void {
    this.#syslogMessages.inc({ sender, outcome }, n)
  }

  /** Connects the gauges to the running parts; until then they have no samples. */
  bind(sources: MetricSources): void {
    this.#sources = sources
  }

  /** One batch of `events` appended to the own feed in `durationMs`. */
  appended(events: number, durationMs: number): void {
    this.#events.inc(events)
    this.#batches.inc()
    this.#appendSeconds.observe(durationMs / 1000)
  }

  /** A member's state vector: per origin, the size it holds (unverified, as announced). */
  announced(sizes: ReadonlyMap<string, number>): void {
    // Members only: a peer naming made-up origins must not grow this map.
    const known = this.#sources?.sizes()
    for (const [origin, size] of sizes) {
      if (!known?.has(origin)) continue
      if (size > (this.#announced.get(origin) ?? 0)) this.#announced.set(origin, size)
    }
  }

  roundEnded(outcome: 'cosigned' | 'failed', durationMs: number): void {
    this.#roundSeconds.observe({ outcome }, durationMs / 1000)
  }

  scrubbed(durationMs: number): void {
    this.#scrubSeconds.observe(durationMs / 1000)
  }

  incident(kind: string): void {
    this.#incidents.inc({ kind })
  }

  queried(outcome: string, durationMs: number): void {
    this.#queries.inc({ outcome })
    this.#querySeconds.observe({ outcome }, durationMs / 1000)
  }

  #defineGauges(registers: Registry[]): void {
    const sources = () => this.#sources
    const announced = this.#announced
    new Gauge({
      name: 'ehrlog_feed_size',
      help: 'Entries of each origin held in this replica.',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset()
        for (const [origin, size] of sources()?.sizes() ?? []) this.set({ origin }, size)
      },
    })
    new Gauge({
      name: 'ehrlog_feed_lag',
      help: 'Entries of each origin this replica lacks: the largest size a member announced, minus the size held.',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset()
        for (const [origin, size] of sources()?.sizes() ?? [])
          this.set({ origin }, Math.max(0, (announced.get(origin) ?? 0) - size))
      },
    })
    this.#scalar(registers, 'ehrlog_members', 'Members of the network besides this node.', (s) =>
      s.memberCount(),
    )
    this.#scalar(registers, 'ehrlog_members_connected', 'Members connected now.', (s) =>
      s.connectedMembers(),
    )
    this.#scalar(
      registers,
      'ehrlog_checkpoint_age_seconds',
      'Age of the newest cosigned checkpoint (+Inf before the first).',
      (s) => {
        const at = s.latestCheckpointMs()
        return at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, (Date.now() - at) / 1000)
      },
    )
    this.#scalar(
      registers,
      'ehrlog_alert_queue_length',
      'Alert emails waiting for the SMTP server.',
      (s) => s.alertQueueLength(),
    )
  }

  #scalar(
    registers: Registry[],
    name: string,
    help: string,
    read: (s: MetricSources) => number,
  ): void {
    const sources = () => this.#sources
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = sources()
        if (s) this.set(read(s))
      },
    })
  }
}
