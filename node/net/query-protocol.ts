import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Logger } from 'pino'
import { EhrlogError, type ErrorCode, isEhrlogError } from '../core/errors.ts'
import {
  BoundedResponder,
  decodeObject as decode,
  type Exchange,
  encodeJson as encode,
} from './bounded-responder.ts'
import type { NetHost } from './host.ts'
import { LIMITS, QUERY_PROTOCOL } from './protocol.ts'

/*
 * /ehrlog/query/1.0.0 (docs/query.md): one request per stream, one answer, then close. Open
 * to clients (the CLI is not a member): the session token inside the request is what is
 * checked, by the handler. Frames are lpStream messages holding UTF-8 JSON:
 *   request  {v: 1, networkId, token, filter, cursor?, limit?}
 *            or {v: 1, networkId, consistency: {from}} (public: no token needed)
 *   answer   {ok: true, answer} | {ok: false, error: {code, message, details}}
 */

/** What the handler gets: parsed as JSON, otherwise untrusted (the handler validates it). */
export interface QueryWireRequest {
  token: string | undefined
  filter: unknown
  cursor?: unknown
  limit?: unknown
  /** Set for a consistency request (docs/query.md): `{from: 'origin:size,…'}`. */
  consistency?: unknown
}

/** Answers a query (node.ts: QueryService.answer); throws EhrlogError to refuse. */
export type QueryHandler = (request: QueryWireRequest) => Promise<unknown>

/** Error codes passed to the client as they are; anything else is INTERNAL. */
const PASSED_ON = new Set<ErrorCode>([
  'UNAUTHORIZED',
  'FORBIDDEN',
  'ARGUMENT_INVALID',
  'MESSAGE_INVALID',
  'NOT_FOUND',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'PAYLOAD_TOO_LARGE',
  'STORE_CORRUPT',
])

/**
 * Damage found while answering (a flipped byte on disk): "not now, ask another node", with the
 * code, as HTTP answers it (api/http-errors.ts). The store's own message names keys and paths
 * of this node's disk, so it stays in the log.
 */
function storeCorrupt(): EhrlogError {
  return new EhrlogError(
    'STORE_CORRUPT',
    "part of this node's replica failed verification and is being repaired from its peers: retry later, or ask another node",
  )
}

export interface QueryServerOptions {
  host: NetHost
  handler: QueryHandler
  networkId: string
  log: Logger
  /** Longest wait for the request, the answer, and its write. */
  timeoutMs: number
  /** Queries served at once across all peers. */
  maxSessions: number
}

/** The responder side of /ehrlog/query/1.0.0. */
export class QueryServer extends BoundedResponder {
  constructor(private readonly opts: QueryServerOptions) {
    super({
      host: opts.host,
      protocol: QUERY_PROTOCOL,
      maxInboundStreams: 4,
      maxSessions: opts.maxSessions,
      timeoutMs: opts.timeoutMs,
      maxRequestBytes: LIMITS.maxQueryRequestBytes,
      busy: (n) => `serving ${n} queries: retry shortly`,
    })
  }

  protected async exchange({ lp, stream, signal }: Exchange): Promise<void> {
    const request = decode((await lp.read({ signal })).subarray(), 'query request')
    if (request.v !== 1) throw new EhrlogError('MESSAGE_INVALID', 'query request v must be 1')
    if (request.networkId !== this.opts.networkId)
      throw new EhrlogError('FORBIDDEN', 'network id differs: network.json files differ')
    if (request.token !== undefined && typeof request.token !== 'string')
      throw new EhrlogError('MESSAGE_INVALID', 'token must be a string')
    const answer = await this.opts.handler({
      token: request.token as string | undefined,
      filter: request.filter,
      cursor: request.cursor,
      limit: request.limit,
      ...(request.consistency === undefined ? {} : { consistency: request.consistency }),
    })
    await lp.write(encode({ ok: true, answer }), { signal })
    await stream.close({ signal })
  }

  protected async refuse(x: Exchange, err: unknown): Promise<void> {
    await this.answerRefusal(x, err)
    // A client without a valid session keeps no client slot (client-connections.ts): once
    // it has its answer, its connection is closed. Members never query, so this is clients.
    if (isEhrlogError(err, 'UNAUTHORIZED'))
      await x.connection.close().catch(() => x.connection.abort(new Error('unauthenticated')))
  }

  private async answerRefusal({ lp, stream, peer, signal }: Exchange, err: unknown): Promise<void> {
    // lpStream refuses a frame over maxDataLength before reading it: the sender's mistake.
    if ((err as Error)?.name === 'InvalidDataLengthError')
      err = new EhrlogError(
        'PAYLOAD_TOO_LARGE',
        `query request is larger than ${LIMITS.maxQueryRequestBytes} bytes`,
        { details: { limitBytes: LIMITS.maxQueryRequestBytes } },
      )
    if (isEhrlogError(err, 'STORE_CORRUPT')) {
      this.opts.log.warn({ peer, err: err.message }, 'query met a damaged replica')
      err = storeCorrupt()
    }
    const passed = isEhrlogError(err) && PASSED_ON.has(err.code)
    if (!passed && !this.controller.signal.aborted)
      this.opts.log.warn({ peer, err: (err as Error).message }, 'query failed')
    const error =
      isEhrlogError(err) && passed
        ? err.toJSON()
        : { code: 'INTERNAL', message: 'internal error', details: {} }
    try {
      await lp.write(encode({ ok: false, error }), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

/** A member as the client dials it: from the client's own network.json. */
export interface QueryTarget {
  name: string
  peerId: string
  addresses: readonly string[]
}

/**
 * The CLI's side: a small libp2p peer (TCP, Noise, Yamux; no gossip, no listening) that
 * dials members' query protocol. Noise authenticates the member as the PeerId in the
 * client's network.json. Stop it when done.
 */
export class QueryClient {
  private constructor(private readonly host: Libp2p) {}

  static async start(): Promise<QueryClient> {
    const host = await createLibp2p({
      addresses: { listen: [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    })
    return new QueryClient(host)
  }

  /**
   * Sends one query to `target` and returns its answer, parsed but NOT verified. Throws the
   * node's error code (UNAUTHORIZED, FORBIDDEN, …), UNAVAILABLE when it cannot be reached or
   * does not answer in time, MESSAGE_INVALID for a malformed answer.
   */
  async query(
    target: QueryTarget,
    request: { networkId: string; token: string } & Omit<QueryWireRequest, 'token'>,
    timeoutMs = 30_000,
  ): Promise<unknown> {
    if (target.addresses.length === 0)
      throw new EhrlogError('UNAVAILABLE', `${target.name} lists no address in network.json`)
    const signal = AbortSignal.timeout(timeoutMs)
    let stream: Stream
    const addrs = target.addresses.map((a) => multiaddr(`${a}/p2p/${target.peerId}`))
    try {
      stream = await this.host
        .dialProtocol(addrs, QUERY_PROTOCOL, { signal })
        .catch(async (err) => {
          // A node refusing new connections for a moment (its per-address rate limit) resets
          // them: one retry after a second, which is when that limit refills.
          if (!/ECONNRESET/.test(String((err as Error).message))) throw err
          await new Promise((r) => setTimeout(r, 1_000))
          return this.host.dialProtocol(addrs, QUERY_PROTOCOL, { signal })
        })
    } catch (cause) {
      throw new EhrlogError(
        'UNAVAILABLE',
        `cannot reach ${target.name} over libp2p: ${describe(cause)} (a node whose client connection slots are all busy closes new connections: retry in a few seconds, or ask one node over HTTP with --node URL)`,
        { cause, details: { node: target.name } },
      )
    }
    const lp = lpStream(stream, { maxDataLength: LIMITS.maxQueryAnswerBytes })
    let reply: Record<string, unknown>
    try {
      await lp.write(encode({ v: 1, ...request }), { signal })
      reply = decode((await lp.read({ signal })).subarray(), `answer of ${target.name}`)
      await stream.close({ signal }).catch(() => {})
    } catch (cause) {
      stream.abort(cause as Error)
      if (isEhrlogError(cause)) throw cause
      throw new EhrlogError(
        'UNAVAILABLE',
        `${target.name} did not answer the query: ${describe(cause)}`,
        { cause, details: { node: target.name } },
      )
    }
    if (reply.ok === true) return reply.answer
    const error = (reply.error ?? {}) as { code?: unknown; message?: unknown; details?: unknown }
    const code = (
      typeof error.code === 'string' && PASSED_ON.has(error.code as ErrorCode)
        ? error.code
        : 'UNAVAILABLE'
    ) as ErrorCode
    throw new EhrlogError(code, `${target.name}: ${String(error.message ?? 'refused the query')}`, {
      details: { node: target.name, ...((error.details as Record<string, unknown>) ?? {}) },
    })
  }

  async stop(): Promise<void> {
    await this.host.stop()
  }
}

/** An error as one line: libp2p's errors often have a name and no message (`undefined`). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const inner = err instanceof AggregateError ? err.errors.map(describe).join('; ') : ''
  const text = [err.name !== 'Error' ? err.name : '', err.message, inner].filter(Boolean)
  return text.length > 0 ? text.join(': ') : 'connection failed without a reason'
}
