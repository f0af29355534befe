import type { AuditEvent } from '../core/event.ts'
import type { Logger } from '../logger.ts'
import { type FrameRefusal, type ParsedFrame, refusalOf } from './parse-frames.ts'
import type { ParsePool } from './parse-pool.ts'
import type { SenderCounts } from './sender-counts.ts'

/**
 * What both listeners (TLS and UDP) do with complete syslog messages: parse them (on the
 * parse threads), refuse the bad ones with a logged reason, and submit the events of the
 * good ones in one call, so a batch of messages costs the ingest queue one request instead
 * of one each. Each message is counted appended only once that submit resolves (its events
 * are durable), or refused.
 */
export class FrameIngest {
  constructor(
    private readonly opts: {
      /** Appends events durably (IngestQueue.submit); resolves once they are on disk. */
      submit: (events: AuditEvent[]) => Promise<unknown>
      counts: SenderCounts
      pool: ParsePool
      logger: Logger
    },
  ) {}

  /** Frames already counted received; resolves once each is counted appended or refused. */
  async ingest(sender: string, frames: readonly Uint8Array[], lane: number): Promise<void> {
    let parsed: ParsedFrame[] = await this.opts.pool.parse(frames, lane)
    let events: AuditEvent[] = []
    let good = 0
    for (const p of parsed) {
      if ('refused' in p) this.refuse(sender, p.refused)
      else {
        for (const e of p.events) events.push(e)
        good++
      }
    }
    if (good === 0) return
    try {
      // This frame lets go of the events while they are appended: the ingest queue lets go
      // of them once encoded, and nothing then keeps them until the batch is on disk.
      const appending = this.opts.submit(events)
      parsed = []
      events = []
      await appending
      this.opts.counts.count(sender, 'appended', good)
    } catch (err) {
      this.refuse(sender, err, { messages: good }, good)
    }
  }

  /** Counts `messages` of `sender` refused and logs why (never the message: it names patients). */
  refuse(
    sender: string,
    why: FrameRefusal | unknown,
    extra?: Record<string, unknown>,
    messages = 1,
  ): void {
    const r = isRefusal(why) ? why : refusalOf(why)
    this.opts.counts.count(sender, 'refused', messages)
    this.opts.logger.warn(
      { sender, ...extra, code: r.code, field: r.field, reason: r.reason },
      'syslog: message refused',
    )
  }
}

function isRefusal(v: unknown): v is FrameRefusal {
  return (
    typeof v === 'object' && v !== null && 'code' in v && 'reason' in v && !(v instanceof Error)
  )
}
