import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import type { Logger } from '../logger.ts'
import { type MessageOutcome, SenderCounts, type SenderTally } from './sender-counts.ts'
import { SyslogListener } from './syslog-listener.ts'

/** config.json `syslog.tls`: where to listen, the PEM files, and who may send. */
export interface SyslogTlsConfig {
  host: string
  port: number
  cert: string
  key: string
  ca: string
  allowedSubjects: string[]
  maxFrameBytes: number
}

/**
 * The node part for ATNA ingest: reads the PEM files (relative to the node folder) at start,
 * so a missing or unreadable one is CONFIG_INVALID naming it, then runs the listener.
 */
export class AtnaIngest {
  readonly #counts: SenderCounts
  #listener: SyslogListener | undefined

  constructor(
    private readonly opts: {
      config: SyslogTlsConfig
      dir: string
      submit: (events: AuditEvent[]) => Promise<unknown>
      observe?: (sender: string, outcome: MessageOutcome, n: number) => void
      logger: Logger
    },
  ) {
    this.#counts = new SenderCounts(opts.observe)
  }

  /** The listener's port (0 before start). */
  get port(): number {
    return this.#listener?.port ?? 0
  }

  tallies(): SenderTally[] {
    return this.#counts.tallies()
  }

  async start(): Promise<void> {
    const { config, dir } = this.opts
    const read = async (field: 'cert' | 'key' | 'ca') => {
      const path = isAbsolute(config[field]) ? config[field] : join(dir, config[field])
      try {
        return await readFile(path, 'utf8')
      } catch (err) {
        throw new EhrlogError('CONFIG_INVALID', `syslog.tls.${field}: cannot read ${path}`, {
          details: { field: `syslog.tls.${field}` },
          cause: err,
        })
      }
    }
    const listener = new SyslogListener({
      host: config.host,
      port: config.port,
      cert: await read('cert'),
      key: await read('key'),
      ca: await read('ca'),
      allowedSubjects: config.allowedSubjects,
      maxFrameBytes: config.maxFrameBytes,
      submit: this.opts.submit,
      counts: this.#counts,
      logger: this.opts.logger,
    })
    await listener.start()
    this.#listener = listener
  }

  async stop(): Promise<void> {
    await this.#listener?.stop()
  }
}
