import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { bytesEqual } from '../core/hex.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import type { NetHost } from './host.ts'
import type { Membership } from './membership.ts'
import { LIMITS, REPAIR_PROTOCOL } from './protocol.ts'
import {
  decodeRepairFrame,
  encodeRepairFrame,
  type ProvenEntryBytes,
  type RepairFrame,
  seqsOf,
} from './repair-frames.ts'

/**
 * What the repair responder reads from the replica. Answers come from this node's own copy,
 * which may itself be damaged: the requester verifies every proof against a root it trusts.
 */
export interface RepairSource {
  /** Entries held of `origin` (the size of its latest signed head on disk). */
  size(origin: string): number
  /** The signed head at exactly `treeSize`, if this replica holds one. */
  headAt(origin: string, treeSize: number): Promise<SignedTreeHead | undefined>
  /** Entry bytes and inclusion proof in the tree of `treeSize`; undefined if unreadable here. */
  entryWithProof(
    origin: string,
    seq: number,
    treeSize: number,
  ): Promise<ProvenEntryBytes | undefined>
}

export interface RepairServerOptions {
  host: NetHost
  membership: Membership
  source: RepairSource
  log: Logger
  networkId: Uint8Array
  /** Longest wait for the request frame or for a write. */
  timeoutMs: number
  /** Requests served at once across all peers. */
  maxSessions: number
}

/** The responder side of /ehrlog/repair/1.0.0: one request per stream, answered then closed. */
export class RepairServer {
  private sessions = 0
  private readonly active = new Set<Promise<void>>()
  private readonly controller = new AbortController()

  constructor(private readonly opts: RepairServerOptions) {}

  async start(): Promise<void> {
    await this.opts.host.handle(
      REPAIR_PROTOCOL,
      (stream, connection) => {
        const p = this.serve(stream, connection).finally(() => this.active.delete(p))
        this.active.add(p)
      },
      { maxInboundStreams: 2 },
    )
  }

  async stop(): Promise<void> {
    this.controller.abort()
    await this.opts.host.unhandle(REPAIR_PROTOCOL).catch(() => {})
    await Promise.allSettled([...this.active])
  }

  private signal(): AbortSignal {
    return AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.opts.timeoutMs)])
  }

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const { membership, log } = this.opts
    const peer = connection.remotePeer.toString()
    const member = membership.byPeerId(peer)
    const lp = lpStream(stream, { maxDataLength: LIMITS.maxRepairFrameBytes })
    let counted = false
    try {
      if (!member) {
        log.warn({ peer, code: 'FORBIDDEN' }, 'refused repair: peer is not a member')
        return await this.refuse(lp, stream, 'FORBIDDEN', `peer ${peer} is not a member`)
      }
      if (this.sessions >= this.opts.maxSessions) {
        return await this.refuse(lp, stream, 'RATE_LIMITED', 'serving too many repair requests')
      }
      this.sessions++
      counted = true
      let frame: RepairFrame
      try {
        frame = decodeRepairFrame((await lp.read({ signal: this.signal() })).subarray())
        if (frame.type !== 'request') throw new Error(`first frame is ${frame.type}, want request`)
      } catch (err) {
        if ((err as Error).name === 'TimeoutError' || this.controller.signal.aborted) throw err
        log.warn(
          { peer, peerName: member.name, code: 'ARGUMENT_INVALID', reason: (err as Error).message },
          'refused repair: malformed request',
        )
        return await this.refuse(lp, stream, 'ARGUMENT_INVALID', (err as Error).message)
      }
      if (!bytesEqual(frame.networkId, this.opts.networkId)) {
        return await this.refuse(lp, stream, 'FORBIDDEN', 'network id differs')
      }
      const { origin, treeSize, ranges } = frame.request
      const held = membership.byName(origin) ? this.opts.source.size(origin) : 0
      if (treeSize > held) {
        return await this.refuse(
          lp,
          stream,
          'NOT_FOUND',
          `this replica holds ${held} entries of ${origin}, not ${treeSize}`,
        )
      }
      await this.answer(lp, origin, treeSize, seqsOf(ranges))
      await stream.close({ signal: this.signal() })
    } catch (err) {
      if (!this.controller.signal.aborted) {
        log.debug(
          { peer, peerName: member?.name, err: (err as Error).message },
          'repair request ended with error',
        )
      }
      stream.abort(err as Error)
    } finally {
      if (counted) this.sessions--
    }
  }

  /** HEAD (if held), one ENTRY per readable seq, DONE; written in groups with backpressure. */
  private async answer(
    lp: LengthPrefixedStream<Stream>,
    origin: string,
    treeSize: number,
    seqs: number[],
  ): Promise<void> {
    let group: Uint8Array[] = []
    let groupBytes = 0
    const send = async (frame: RepairFrame, flush = false) => {
      const bytes = encodeRepairFrame(frame)
      group.push(bytes)
      groupBytes += bytes.byteLength
      if (flush || groupBytes >= LIMITS.targetSyncFrameBytes) {
        await lp.writeV(group, { signal: this.signal() })
        group = []
        groupBytes = 0
      }
    }
    const head = await this.opts.source.headAt(origin, treeSize).catch(() => undefined)
    if (head) await send({ type: 'head', head })
    for (const seq of seqs) {
      // An entry this replica cannot read is left out; the requester asks another peer.
      const proven = await this.opts.source
        .entryWithProof(origin, seq, treeSize)
        .catch(() => undefined)
      if (proven) await send({ type: 'entry', seq, ...proven })
    }
    await send({ type: 'done' }, true)
  }

  private async refuse(
    lp: LengthPrefixedStream<Stream>,
    stream: Stream,
    code: string,
    message: string,
  ): Promise<void> {
    await lp.write(encodeRepairFrame({ type: 'error', code, message }), { signal: this.signal() })
    await stream.close({ signal: this.signal() })
  }
}
