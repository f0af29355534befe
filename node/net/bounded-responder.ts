import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { EhrlogError } from '../core/errors.ts'
import type { NetHost } from './host.ts'

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** A request's or answer's bytes: UTF-8 JSON. */
export function encodeJson(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value))
}

/** Parses a request or answer; MESSAGE_INVALID unless it is a JSON object. */
export function decodeObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(utf8Decoder.decode(bytes))
  } catch {
    value = undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new EhrlogError('MESSAGE_INVALID', `the ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

/** One request/response exchange on a length-prefixed stream, as a responder serves it. */
export interface Exchange {
  lp: LengthPrefixedStream<Stream>
  stream: Stream
  connection: Connection
  peer: string
  /** Aborted when the responder stops or the exchange outlives its time. */
  signal: AbortSignal
}

export interface ResponderOptions {
  host: NetHost
  protocol: string
  /** Streams a peer may open at once. */
  maxInboundStreams: number
  /** Exchanges served at once across all peers; more are refused with RATE_LIMITED. */
  maxSessions: number
  /** Longest wait for the request, the answer, and its write. */
  timeoutMs: number
  /** A request frame over this is refused before it is read. */
  maxRequestBytes: number
  /** The words of the RATE_LIMITED refusal while `n` exchanges are served. */
  busy: (n: number) => string
}

/**
 * The responder side of a request/response protocol (the query and membership protocols):
 * registers it with the host (clients included: the gater bounds how many are connected),
 * bounds the exchanges served at once and each one's time, and waits for them when it stops.
 * Subclasses read the request and write the answer (`exchange`), and turn any error into the
 * refusal they send (`refuse`).
 */
export abstract class BoundedResponder {
  private sessions = 0
  private readonly active = new Set<Promise<void>>()
  protected readonly controller = new AbortController()

  constructor(private readonly responder: ResponderOptions) {}

  async start(): Promise<void> {
    const { host, protocol, maxInboundStreams } = this.responder
    await host.handle(
      protocol,
      (stream, connection) => {
        const p = this.run(stream, connection).finally(() => this.active.delete(p))
        this.active.add(p)
      },
      { maxInboundStreams, runOnLimitedConnection: false },
    )
  }

  async stop(): Promise<void> {
    this.controller.abort()
    await this.responder.host.unhandle(this.responder.protocol).catch(() => {})
    await Promise.allSettled([...this.active])
  }

  protected abstract exchange(x: Exchange): Promise<void>
  protected abstract refuse(x: Exchange, err: unknown): Promise<void>

  private async run(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([
      this.controller.signal,
      AbortSignal.timeout(this.responder.timeoutMs),
    ])
    const lp = lpStream(stream, { maxDataLength: this.responder.maxRequestBytes })
    const x: Exchange = { lp, stream, connection, peer: connection.remotePeer.toString(), signal }
    let counted = false
    try {
      if (this.sessions >= this.responder.maxSessions)
        throw new EhrlogError('RATE_LIMITED', this.responder.busy(this.sessions))
      this.sessions++
      counted = true
      await this.exchange(x)
    } catch (err) {
      await this.refuse(x, err)
    } finally {
      if (counted) this.sessions--
    }
  }
}
