import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import type { Member } from '../core/trust/index.ts'
import type { NetHost } from './host.ts'
import type { NetMembers } from './net-members.ts'

/**
 * One admitted inbound stream of a member-only request/response protocol: the framed stream,
 * who sent it, and the deadline of each operation. The protocol reads requests and writes its
 * answer; the responder closes or aborts the stream afterwards.
 */
export interface ResponderSession {
  lp: LengthPrefixedStream<Stream>
  peer: string
  member: Member
  /** Aborts when the responder stops or `timeoutMs` passes: pass to each read and write. */
  signal(): AbortSignal
  /** Writes an ERROR frame; the session should return afterwards. */
  refuse(code: string, message: string): Promise<void>
  /** Writes frames in groups of about `groupBytes`, waiting for 'drain' when the stream is full. */
  writer(groupBytes: number): FrameGroupWriter
}

export interface MemberResponderOptions {
  /** The protocol id, e.g. /ehrlog/sync/1.0.0; its second part names it in log lines. */
  protocol: string
  host: NetHost
  membership: NetMembers
  log: Logger
  /** Longest wait for one frame to arrive or be written. */
  timeoutMs: number
  /** Sessions served at once across all peers; more are refused with RATE_LIMITED. */
  maxSessions: number
  /** Inbound streams of this protocol per connection (libp2p resets more). */
  maxInboundStreams: number
  /** Largest frame read (the length prefix excluded). */
  maxFrameBytes: number
  /** The protocol's frames; the responder writes its ERROR frames. */
  frames: { encode(frame: { type: 'error'; code: string; message: string }): Uint8Array }
}

/**
 * The responder skeleton shared by /ehrlog/sync and /ehrlog/repair: registers the handler,
 * refuses non-members (FORBIDDEN, logged with the PeerId) and sessions beyond `maxSessions`
 * (RATE_LIMITED), runs the protocol's `serve` on each admitted stream, closes it cleanly or
 * aborts it on an error, and on stop() waits for every session still running.
 */
export abstract class MemberResponder {
  private sessions = 0
  private readonly active = new Set<Promise<void>>()
  private readonly controller = new AbortController()
  private readonly responderOpts: MemberResponderOptions

  constructor(opts: MemberResponderOptions) {
    this.responderOpts = opts
  }

  /** Answers one admitted stream; an exception aborts the stream (logged at debug). */
  protected abstract serve(session: ResponderSession): Promise<void>

  async start(): Promise<void> {
    await this.responderOpts.host.handle(
      this.responderOpts.protocol,
      (stream, connection) => {
        const p = this.run(stream, connection).finally(() => this.active.delete(p))
        this.active.add(p)
      },
      { maxInboundStreams: this.responderOpts.maxInboundStreams },
    )
  }

  async stop(): Promise<void> {
    this.controller.abort()
    await this.responderOpts.host.unhandle(this.responderOpts.protocol).catch(() => {})
    await Promise.allSettled([...this.active])
  }

  /** True once stop() began: errors after it are expected and not logged. */
  get stopping(): boolean {
    return this.controller.signal.aborted
  }

  private signal(): AbortSignal {
    return AbortSignal.any([
      this.controller.signal,
      AbortSignal.timeout(this.responderOpts.timeoutMs),
    ])
  }

  private async run(stream: Stream, connection: Connection): Promise<void> {
    const { membership, log } = this.responderOpts
    const name = this.responderOpts.protocol.split('/')[2]
    const peer = connection.remotePeer.toString()
    const member = membership.byPeerId(peer)
    const lp = lpStream(stream, { maxDataLength: this.responderOpts.maxFrameBytes })
    const refuse = async (code: string, message: string) => {
      const frame = this.responderOpts.frames.encode({ type: 'error', code, message })
      await lp.write(frame, { signal: this.signal() })
    }
    let counted = false
    try {
      if (!member) {
        log.warn({ peer, code: 'FORBIDDEN' }, `refused ${name}: peer is not a member`)
        await refuse('FORBIDDEN', `peer ${peer} is not a member of network ${membership.networkId}`)
      } else if (this.sessions >= this.responderOpts.maxSessions) {
        await refuse('RATE_LIMITED', `serving ${this.sessions} ${name} sessions, try later`)
      } else {
        this.sessions++
        counted = true
        await this.serve({
          lp,
          peer,
          member,
          signal: () => this.signal(),
          refuse,
          writer: (groupBytes) => new FrameGroupWriter(lp, groupBytes, () => this.signal()),
        })
      }
      await stream.close({ signal: this.signal() })
    } catch (err) {
      if (!this.stopping) {
        log.debug(
          { peer, peerName: member?.name, err: (err as Error).message },
          `${name} session ended with error`,
        )
      }
      stream.abort(err as Error)
    } finally {
      if (counted) this.sessions--
    }
  }
}

/**
 * Collects encoded frames and writes them with one writeV per ~`groupBytes`. `lp.writeV`
 * waits for the stream's 'drain' event whenever send() reports a full buffer, so memory
 * stays bounded by one group plus what the caller holds.
 */
export class FrameGroupWriter {
  private group: Uint8Array[] = []
  private bytes = 0

  constructor(
    private readonly lp: LengthPrefixedStream<Stream>,
    private readonly groupBytes: number,
    private readonly signal: () => AbortSignal,
  ) {}

  async send(frame: Uint8Array): Promise<void> {
    this.group.push(frame)
    this.bytes += frame.byteLength
    if (this.bytes >= this.groupBytes) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.group.length === 0) return
    const group = this.group
    this.group = []
    this.bytes = 0
    await this.lp.writeV(group, { signal: this.signal() })
  }
}
