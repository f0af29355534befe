import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { BlockList, isIP, isIPv6 } from 'node:net'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { parseCidr } from '../identity/config.ts'
import type { Logger } from '../logger.ts'
import { FrameIngest } from './frame-ingest.ts'
import type { ParsePool } from './parse-pool.ts'
import type { SenderCounts } from './sender-counts.ts'

export interface UdpListenerOptions {
  host: string
  port: number
  /** CIDRs whose datagrams are taken; empty: loopback sources only (127.0.0.0/8, ::1). */
  allowedNetworks: readonly string[]
  /** Largest datagram taken (RFC 5426 §3.2); a larger one is refused. */
  maxDatagramBytes: number
  submit: (events: AuditEvent[]) => Promise<unknown>
  counts: SenderCounts
  pool: ParsePool
  logger: Logger
  /** Bytes of datagrams not yet appended above which new ones are refused (default 16 MiB). */
  maxTotalBytes?: number
}

/** Sender names of datagrams from outside the allowed networks, and from allowed sources past the cap. */
export const UDP_NOT_ALLOWED = 'udp:not-allowed'
export const UDP_OTHER = 'udp:other'
/** Distinct `udp:ADDRESS` senders counted before the rest are counted as `udp:other`. */
const MAX_UDP_SENDERS = 256

/**
 * RFC 5426 syslog over UDP: one datagram is one RFC 5424 message (§3.1), no framing. There
 * is no client authentication: a datagram is taken only from the allowed networks (by its
 * source address, which UDP does not authenticate) and counted under the sender
 * `udp:ADDRESS`. Nothing acknowledges a datagram and nothing can slow a sender down, so
 * when more than `maxTotalBytes` wait to be appended, new datagrams are refused (counted,
 * logged) rather than held. A malformed datagram is refused and the listener goes on.
 * Datagrams arriving together are parsed and submitted as one batch per sender.
 */
export class UdpListener {
  readonly #opts: Required<UdpListenerOptions>
  readonly #allowed = new BlockList()
  readonly #ingest: FrameIngest
  readonly #senders = new Set<string>()
  readonly #inFlight = new Set<Promise<void>>()
  /** Datagrams read this tick, by sender: submitted together. */
  #batch = new Map<string, Buffer[]>()
  #heldBytes = 0
  #socket: Socket | undefined

  constructor(opts: UdpListenerOptions) {
    this.#opts = { maxTotalBytes: 16 * 1024 * 1024, ...opts }
    const networks =
      opts.allowedNetworks.length > 0 ? opts.allowedNetworks : ['127.0.0.0/8', '::1/128']
    for (const text of networks) {
      const cidr = parseCidr(text)
      if (!cidr)
        throw new EhrlogError('CONFIG_INVALID', `syslog.udp.allowedNetworks: bad ${text}`, {
          details: { field: 'syslog.udp.allowedNetworks' },
        })
      this.#allowed.addSubnet(cidr.address, cidr.prefix, cidr.family)
    }
    this.#ingest = new FrameIngest({
      submit: opts.submit,
      counts: opts.counts,
      pool: opts.pool,
      logger: opts.logger,
    })
  }

  /** The port bound (after start). */
  get port(): number {
    return this.#socket?.address().port ?? 0
  }

  async start(): Promise<void> {
    const { host, port, logger } = this.#opts
    const type = isIPv6(host) ? 'udp6' : 'udp4'
    const socket = createSocket({ type, recvBufferSize: 4 * 1024 * 1024 })
    socket.on('message', (msg, rinfo) => this.#receive(msg, rinfo))
    // A socket error (e.g. ICMP-reported) is logged; the listener keeps reading.
    socket.on('error', (err) => logger.warn({ err: err.message }, 'syslog udp: socket error'))
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        resolve()
      })
    }).catch((err: unknown) => {
      socket.close()
      throw err
    })
    this.#socket = socket
    logger.info(
      { host, port: this.port, allowedNetworks: this.#opts.allowedNetworks },
      'syslog (RFC 5426, UDP) listening',
    )
  }

  /** Stops reading and waits for appends in flight. Idempotent. */
  async stop(): Promise<void> {
    const socket = this.#socket
    this.#socket = undefined
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()))
    this.#flush()
    await Promise.allSettled([...this.#inFlight])
  }

  #receive(msg: Buffer, rinfo: RemoteInfo): void {
    const { counts, maxDatagramBytes, maxTotalBytes } = this.#opts
    const address = unmapped(rinfo.address)
    if (!this.#allowed.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')) {
      counts.count(UDP_NOT_ALLOWED, 'received')
      this.#ingest.refuse(
        UDP_NOT_ALLOWED,
        { code: 'FORBIDDEN', field: 'source', reason: 'source address not in allowedNetworks' },
        { remote: address },
      )
      return
    }
    const sender = this.#senderOf(address)
    counts.count(sender, 'received')
    if (msg.byteLength > maxDatagramBytes) {
      this.#ingest.refuse(sender, {
        code: 'PAYLOAD_TOO_LARGE',
        field: 'datagram',
        reason: `datagram of ${msg.byteLength} bytes, want at most ${maxDatagramBytes}`,
      })
      return
    }
    if (this.#heldBytes + msg.byteLength > maxTotalBytes) {
      this.#ingest.refuse(sender, {
        code: 'UNAVAILABLE',
        field: 'datagram',
        reason: `${this.#heldBytes} bytes of datagrams wait to be appended: over the bound, dropped`,
      })
      return
    }
    this.#heldBytes += msg.byteLength
    const batch = this.#batch.get(sender)
    if (batch) batch.push(msg)
    else {
      if (this.#batch.size === 0) setImmediate(() => this.#flush())
      this.#batch.set(sender, [msg])
    }
  }

  /** Submits the datagrams read since the last flush, one batch per sender. */
  #flush(): void {
    const batches = this.#batch
    this.#batch = new Map()
    for (const [sender, frames] of batches) {
      const bytes = frames.reduce((n, f) => n + f.byteLength, 0)
      // Lane 0: UDP datagrams carry no order worth keeping across senders, and one lane keeps
      // each sender's in arrival order.
      const done = this.#ingest.ingest(sender, frames, 0).finally(() => {
        this.#heldBytes -= bytes
        this.#inFlight.delete(done)
      })
      this.#inFlight.add(done)
    }
  }

  #senderOf(address: string): string {
    const name = `udp:${address}`
    if (this.#senders.has(name)) return name
    if (this.#senders.size >= MAX_UDP_SENDERS) return UDP_OTHER
    this.#senders.add(name)
    return name
  }
}

/** An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 sender) as IPv4. */
function unmapped(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return v4 ? v4[1]! : address
}
