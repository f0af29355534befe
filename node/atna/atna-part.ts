import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import type { Logger } from '../logger.ts'
import { defaultParseThreads, ParsePool } from './parse-pool.ts'
import { type MessageOutcome, SenderCounts, type SenderTally } from './sender-counts.ts'
import { SyslogListener } from './syslog-listener.ts'
import { UdpListener } from './udp-listener.ts'

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

/** config.json `syslog.udp` (RFC 5426): where to listen, and which networks may send. */
export interface SyslogUdpConfig {
  host: string
  port: number
  allowedNetworks: string[]
  maxDatagramBytes: number
}

/** config.json `syslog`: TLS, UDP, or both. */
export interface SyslogConfig {
  tls?: SyslogTlsConfig | undefined
  udp?: SyslogUdpConfig | undefined
  /** Parse threads (parse-pool.ts); default defaultParseThreads(). */
  parseThreads?: number | undefined
}

/**
 * The node part for ATNA ingest: reads the PEM files (relative to the node folder) at start,
 * so a missing or unreadable one is CONFIG_INVALID naming it, then runs the listeners (TLS,
 * UDP, or both), which share the parse threads and the per-sender counts.
 */
export class AtnaIngest {
  readonly #counts: SenderCounts
  readonly #pool: ParsePool
  #listener: SyslogListener | undefined
  #udp: UdpListener | undefined

  constructor(
    private readonly opts: {
      config: SyslogConfig
      dir: string
      submit: (events: AuditEvent[]) => Promise<unknown>
      observe?: (sender: string, outcome: MessageOutcome, n: number) => void
      logger: Logger
    },
  ) {
    this.#counts = new SenderCounts(opts.observe)
    this.#pool = new ParsePool(opts.config.parseThreads ?? defaultParseThreads())
  }

  /** The TLS listener's port (0 before start, or without TLS). */
  get port(): number {
    return this.#listener?.port ?? 0
  }

  /** The UDP listener's port (0 before start, or without UDP). */
  get udpPort(): number {
    return this.#udp?.port ?? 0
  }

  tallies(): SenderTally[] {
    return this.#counts.tallies()
  }

  async start(): Promise<void> {
    const { tls, udp } = this.opts.config
    if (tls) await this.#startTls(tls)
    if (udp) {
      const listener = new UdpListener({
        ...udp,
        submit: this.opts.submit,
        counts: this.#counts,
        pool: this.#pool,
        logger: this.opts.logger,
      })
      this.#pool.start()
      await listener.start()
      this.#udp = listener
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.#listener?.stop(), this.#udp?.stop()])
    await this.#pool.close()
  }

  async #startTls(config: SyslogTlsConfig): Promise<void> {
    const { dir } = this.opts
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
      pool: this.#pool,
      logger: this.opts.logger,
    })
    await listener.start()
    this.#listener = listener
  }
}
