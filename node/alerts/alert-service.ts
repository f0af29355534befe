import { join } from 'node:path'
import { type AlertBody, alertBodySchema } from '../core/alert-body.ts'
import { EhrlogError } from '../core/errors.ts'
import type { SmtpConfig } from '../identity/index.ts'
import type { Logger } from '../logger.ts'
import { renderAlertEmail } from './email.ts'
import {
  AlertEpisodes,
  DEFAULT_EPISODES,
  type EpisodeOptions,
  keepFolded,
  partingSeqOf,
} from './episodes.ts'
import { alertBodyOf, type Incident, incidentId, normalizeIncident } from './incident.ts'
import { subjectOf } from './kind-texts.ts'
import { singleFlight } from './single-flight.ts'
import { createSmtpSender, type SmtpSender } from './smtp-sender.ts'
import { AlertSpool } from './spool.ts'

export interface AlertServiceOptions {
  /** This node's name: the reporting node. */
  node: string
  /** Recipients (config alerts.admins). */
  admins: readonly string[]
  /** Without it, alerts are delivered to DIR/alerts/outbox/ and the log. */
  smtp?: SmtpConfig
  /** The node folder; the service keeps its files in DIR/alerts/. */
  dir: string
  logger: Logger
  /** Appends the alert entry to the node's own feed (LogStore.appendEntries with kind 'alert'). */
  record?: (body: AlertBody) => Promise<void>
  /** First retry after a failed send or record; doubles per failure. Default 30 s. */
  retryMs?: number
  /** Cap of the doubling. Default 15 min. */
  maxRetryMs?: number
  /**
   * Finds where a fork's histories part when its first incident only knows a tree size
   * (IntegrityService.partingOf): the first seq whose leaf differs, and its proof for
   * evidence.json. Waited for at most `partingWaitMs`, then the email says "at or before".
   */
  parting?: PartingFinder
  /** Default 10 s. */
  partingWaitMs?: number
  /** Grouping of incidents of one kind and origin into one email (DEFAULT_EPISODES). */
  episodes?: Partial<EpisodeOptions>
  now?: () => Date
}

/** Where a fork parts: the first seq whose leaf differs, with what proves it. */
export type PartingFinder = (
  incident: Incident,
  signal: AbortSignal,
) => Promise<{ seq: number; evidence: Record<string, unknown> } | undefined>

type State = 'new' | 'started' | 'stopped'

const EML = '.eml'
const LOGGED_IDS = 20

/**
 * Emails a hospital's admins about incidents, once per incident, without losing any: each is
 * written to DIR/alerts/queue/ before anything else happens and leaves it only when an SMTP
 * server accepted it (then sent/) or, without SMTP or admins, as a file in outbox/. Each is
 * also recorded in the node's own feed, so alerts are tamper-evident and replicated.
 */
export class AlertService {
  readonly #options: AlertServiceOptions
  readonly #spool: AlertSpool
  readonly #logger: Logger
  readonly #now: () => Date
  readonly #retryMs: number
  readonly #maxRetryMs: number
  #state: State = 'new'
  /** Reports in progress (report()), which stop() waits for. */
  readonly #reporting = new Set<Promise<unknown>>()
  #sender: SmtpSender | undefined
  /** Incident ids reported since start (the known/ folder holds the ones before). */
  readonly #known = new Set<string>()
  /** File names in queue/ and unrecorded/, mirrored so pending() needs no I/O. */
  readonly #queued = new Set<string>()
  readonly #unrecorded = new Set<string>()
  /** Consecutive failed attempts, for the retry backoff. */
  #sendFailures = 0
  #recordFailures = 0
  #timer: NodeJS.Timeout | undefined
  readonly #delivery = singleFlight(() => this.#deliverQueued())
  readonly #recording = singleFlight(() => this.#recordPending())
  readonly #episodes: AlertEpisodes
  /** Aborted by stop(): a parting search in progress gives up. */
  readonly #stopping = new AbortController()

  constructor(options: AlertServiceOptions) {
    this.#options = options
    this.#spool = new AlertSpool(join(options.dir, 'alerts'))
    this.#logger = options.logger
    this.#now = options.now ?? (() => new Date())
    this.#retryMs = options.retryMs ?? 30_000
    this.#maxRetryMs = Math.max(this.#retryMs, options.maxRetryMs ?? 15 * 60_000)
    this.#episodes = new AlertEpisodes({ ...DEFAULT_EPISODES, ...options.episodes })
  }

  /**
   * Creates DIR/alerts/ and starts delivering what a previous run left in queue/ (and
   * recording what it left unrecorded). Does not wait for the SMTP server.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') return
    await this.#spool.open()
    for (const name of await this.#spool.list('queue')) {
      if (name.endsWith(EML)) this.#queued.add(name)
    }
    for (const name of await this.#spool.list('unrecorded')) this.#unrecorded.add(name)
    if (this.#options.smtp) this.#sender = createSmtpSender(this.#options.smtp)
    this.#state = 'started'
    if (this.#queued.size > 0) {
      this.#logger.info({ queued: this.#queued.size }, 'alerts: resending queued emails')
    }
    if (this.#queued.size > 0 || this.#unrecorded.size > 0) void this.#retryNow()
  }

  /** Stops retrying, waits for reports and a send in progress, closes SMTP. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    const wasStarted = this.#state === 'started'
    this.#state = 'stopped'
    this.#stopping.abort()
    clearTimeout(this.#timer)
    this.#timer = undefined
    // Both loops check the state before each file: this waits for the file in hand only.
    if (wasStarted) {
      await Promise.allSettled([...this.#reporting])
      await Promise.all([this.#delivery.idle(), this.#recording.idle()])
    }
    this.#sender?.close()
  }

  /**
   * Reports an incident. A new one is queued on disk, recorded in the feed, logged, and sent
   * (or written to the outbox) before this resolves; unless sending is backing off after a
   * failure, in which case the retry timer sends it. A known one (same incidentId) does
   * nothing. Throws ARGUMENT_INVALID for a malformed incident (nothing written), UNAVAILABLE
   * when not started, and disk errors (then the incident was not accepted: report it again).
   */
  report(incident: Incident): Promise<{ id: string; isNew: boolean; foldedInto?: string }> {
    if (this.#state !== 'started') {
      return Promise.reject(
        new EhrlogError('UNAVAILABLE', `alert service is ${this.#state}, want started`),
      )
    }
    // stop() waits for reports in progress: their files are written whole before it returns.
    const run = this.#report(incident)
    this.#reporting.add(run)
    void run.finally(() => this.#reporting.delete(run)).catch(() => {})
    return run
  }

  async #report(incident: Incident): Promise<{ id: string; isNew: boolean; foldedInto?: string }> {
    const first = normalizeIncident(incident)
    const id = incidentId(first)
    // Claimed before the first await: two concurrent reports of one incident send one email.
    if (this.#known.has(id)) return { id, isNew: false }
    this.#known.add(id)
    const episode = this.#episodes.join(first, id, this.#now().getTime())
    if (episode) return this.#fold(first, id, episode.firstId, episode.folded)
    let normalized = first
    let body = alertBodyOf(normalized, id)
    try {
      if (await this.#spool.exists('known', id)) return { id, isNew: false }
      normalized = await this.#withParting(first)
      body = alertBodyOf(normalized, id)
      // Order matters for "never lost": the email is on disk before the marker that stops a
      // second report; a crash between the two can at worst send it twice, never not at all.
      const email = await renderAlertEmail(normalized, {
        id,
        from: this.#from(),
        to: this.#options.admins,
        date: this.#now(),
      })
      await this.#spool.write('queue', id + EML, email)
      this.#queued.add(id + EML)
      if (this.#options.record) {
        await this.#spool.write('unrecorded', `${id}.json`, JSON.stringify(body))
        this.#unrecorded.add(`${id}.json`)
      }
      await this.#spool.write(
        'known',
        id,
        `${JSON.stringify({ kind: body.kind, origin: body.origin, detectedAt: body.detectedAt })}\n`,
      )
    } catch (err) {
      this.#known.delete(id)
      this.#episodes.cancel(first, id)
      throw err
    }
    this.#logger.error(
      {
        alert: {
          id,
          kind: body.kind,
          reportingNode: normalized.reportingNode,
          origin: body.origin,
          seqFrom: body.seqFrom,
          seqTo: body.seqTo,
          entryIds: normalized.entryIds.slice(0, LOGGED_IDS),
          entryCount: body.entryCount,
        },
      },
      `${subjectOf(normalized)}: ${normalized.summary}`,
    )
    await this.#recording.run()
    if (this.#sendFailures === 0) await this.#delivery.run()
    this.#scheduleRetryIfPending()
    return { id, isNew: true }
  }

  /**
   * The first incident of a fork, saying where the histories part: exactly when the incident
   * names the seq or the finder proves it (then also its seq range and evidence), else "at
   * or before" the tree size whose roots differ.
   */
  async #withParting(incident: Incident): Promise<Incident> {
    let parting = partingSeqOf(incident)
    if (!parting) return incident
    let found: Awaited<ReturnType<PartingFinder>>
    if (!parting.exact && this.#options.parting) {
      const signal = AbortSignal.any([
        this.#stopping.signal,
        AbortSignal.timeout(this.#options.partingWaitMs ?? 10_000),
      ])
      // Raced with the signal: a finder that does not heed it still cannot hold the email.
      const gaveUp = new Promise<undefined>((resolve) =>
        signal.addEventListener('abort', () => resolve(undefined), { once: true }),
      )
      const search = this.#options.parting(incident, signal).catch((err: unknown) => {
        this.#logger.warn(
          { origin: incident.origin, err: (err as Error).message },
          'alerts: where the histories part is not known',
        )
        return undefined
      })
      found = await Promise.race([search, gaveUp])
      if (found && !(Number.isSafeInteger(found.seq) && found.seq >= 1)) found = undefined
      if (found) parting = { seq: found.seq, exact: true }
    }
    const summary = `${incident.summary} The histories part ${parting.exact ? 'at' : 'at or before'} seq ${parting.seq} of ${incident.origin}.`
    if (!found) return { ...incident, summary }
    const evidence =
      incident.evidence && typeof incident.evidence === 'object'
        ? { ...(incident.evidence as Record<string, unknown>), parting: found.evidence }
        : { original: incident.evidence, parting: found.evidence }
    return { ...incident, summary, seqFrom: found.seq, seqTo: found.seq, evidence }
  }

  async #fold(incident: Incident, id: string, firstId: string, folded: number) {
    try {
      await keepFolded(this.#spool, incident, id, firstId)
    } catch (err) {
      this.#known.delete(id)
      throw err
    }
    this.#logger.warn(
      { alert: { id, kind: incident.kind, origin: incident.origin, foldedInto: firstId, folded } },
      `alerts: another ${incident.kind} incident of ${incident.origin}, part of incident ${firstId.slice(0, 16)}… already reported (${folded} folded into it): no new email`,
    )
    return { id, isNew: false, foldedInto: firstId }
  }

  /** Whether a notice (or incident) with this id was queued already, in this run or before. */
  async isKnown(id: string): Promise<boolean> {
    if (this.#known.has(id)) return true
    return /^[0-9a-f]{64}$/.test(id) && this.#spool.exists('known', id)
  }

  /**
   * Queues an email that is not an incident (membership governance: node/membership/
   * governance-mail.ts) with the same guarantees: written to queue/ before this resolves, sent
   * to the admins (or put in outbox/), retried after a failure. `id` names it once: the same id
   * again does nothing (false). `render` gets the From, the admins and the date.
   */
  async notify(
    id: string,
    render: (envelope: { from: string; to: readonly string[]; date: Date }) => Promise<Buffer>,
  ): Promise<boolean> {
    if (this.#state !== 'started')
      throw new EhrlogError('UNAVAILABLE', `alert service is ${this.#state}, want started`)
    if (!/^[0-9a-f]{64}$/.test(id))
      throw new EhrlogError('ARGUMENT_INVALID', 'a notice id is 32 bytes of hex', {
        details: { field: 'id' },
      })
    if (this.#known.has(id)) return false
    this.#known.add(id)
    const run = (async () => {
      if (await this.#spool.exists('known', id)) return false
      const email = await render({
        from: this.#from(),
        to: this.#options.admins,
        date: this.#now(),
      })
      await this.#spool.write('queue', id + EML, email)
      this.#queued.add(id + EML)
      await this.#spool.write('known', id, '{"kind":"notice"}\n')
      if (this.#sendFailures === 0) await this.#delivery.run()
      this.#scheduleRetryIfPending()
      return true
    })()
    this.#reporting.add(run)
    void run.finally(() => this.#reporting.delete(run)).catch(() => {})
    try {
      return await run
    } catch (err) {
      this.#known.delete(id)
      throw err
    }
  }

  /** Emails waiting in queue/ for the SMTP server. */
  pending(): number {
    return this.#queued.size
  }

  /** Attempts every pending send and record now, whatever the backoff (for `retry` commands). */
  async flush(): Promise<void> {
    if (this.#state !== 'started') return
    await this.#retryNow()
  }

  #from(): string {
    // Without SMTP the outbox file still needs a From; .invalid (RFC 2606) cannot be mistaken
    // for a real mailbox.
    return this.#options.smtp?.from ?? `ehrlog@${this.#options.node}.invalid`
  }

  async #retryNow(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    await Promise.all([this.#recording.run(), this.#delivery.run()])
    this.#scheduleRetryIfPending()
  }

  #scheduleRetryIfPending(): void {
    if (this.#state !== 'started' || this.#timer) return
    const unrecorded = this.#options.record ? this.#unrecorded.size : 0
    if (this.#queued.size === 0 && unrecorded === 0) return
    const failures = Math.max(this.#sendFailures, this.#recordFailures, 1)
    const delayMs = Math.min(this.#retryMs * 2 ** (failures - 1), this.#maxRetryMs)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#retryNow()
    }, delayMs)
    // Retries must not keep a CLI or a test process alive; a running node is kept alive anyway.
    this.#timer.unref()
  }

  /** queue/ → sent/ (SMTP accepted) or outbox/ (no SMTP or no admins); stops at the first failure. */
  async #deliverQueued(): Promise<void> {
    for (const name of [...this.#queued]) {
      if (this.#state !== 'started') return
      const id = name.slice(0, -EML.length)
      try {
        const admins = this.#options.admins
        if (!this.#sender || admins.length === 0) {
          await this.#spool.move('queue', 'outbox', name)
          this.#queued.delete(name)
          this.#logger.warn(
            { alert: { id }, path: this.#spool.path('outbox', name) },
            `alerts: ${this.#sender ? 'no admins' : 'no SMTP server'} configured; the alert email is in the outbox`,
          )
          continue
        }
        let email: Buffer
        try {
          email = await this.#spool.read('queue', name)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
          // Someone removed it by hand: nothing left to send.
          this.#queued.delete(name)
          this.#logger.warn({ alert: { id } }, 'alerts: queued email vanished from queue/')
          continue
        }
        await this.#sender.send(email, admins)
        await this.#spool.move('queue', 'sent', name)
        this.#queued.delete(name)
        this.#sendFailures = 0
        this.#logger.info({ alert: { id }, to: admins }, 'alerts: email sent')
      } catch (err) {
        this.#sendFailures++
        this.#logger.warn(
          { alert: { id }, err: (err as Error).message, queued: this.#queued.size },
          'alerts: email not sent; it stays queued and is retried',
        )
        // The server is likely down for the rest too: wait for the retry timer.
        return
      }
    }
  }

  /** unrecorded/ → the node's own feed, through `record`. */
  async #recordPending(): Promise<void> {
    const record = this.#options.record
    if (!record) return
    for (const name of [...this.#unrecorded]) {
      if (this.#state !== 'started') return
      let body: AlertBody
      try {
        // Our own file, but disk is untrusted: parse it before it goes into a signed feed.
        body = alertBodySchema.parse(
          JSON.parse((await this.#spool.read('unrecorded', name)).toString('utf8')),
        )
      } catch (err) {
        this.#unrecorded.delete(name)
        this.#logger.error(
          { path: this.#spool.path('unrecorded', name), err: (err as Error).message },
          'alerts: unreadable alert record skipped',
        )
        continue
      }
      try {
        await record(body)
      } catch (err) {
        this.#recordFailures++
        this.#logger.error(
          { alert: { id: body.incidentId }, err: (err as Error).message },
          'alerts: alert not recorded in the feed yet; it is retried',
        )
        return
      }
      this.#recordFailures = 0
      this.#unrecorded.delete(name)
      // If this fails (or the node crashes first), the next start records the alert again:
      // harmless, readers know an alert by its incidentId.
      await this.#spool.remove('unrecorded', name).catch((err: Error) => {
        this.#logger.warn(
          { alert: { id: body.incidentId }, err: err.message },
          'alerts: recorded, but its unrecorded/ file stays',
        )
      })
    }
  }
}
