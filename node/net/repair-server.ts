import type { Logger } from 'pino'
import { bytesEqual } from '../core/hex.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import type { NetHost } from './host.ts'
import { MemberResponder, type ResponderSession } from './member-responder.ts'
import type { NetMembers } from './net-members.ts'
import { LIMITS, REPAIR_PROTOCOL } from './protocol.ts'
import {
  decodeRepairFrame,
  encodeRepairFrame,
  type ProvenEntryBytes,
  type RepairFrame,
  repairFrames,
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
  membership: NetMembers
  source: RepairSource
  log: Logger
  networkId: Uint8Array
  /** Longest wait for the request frame or for a write. */
  timeoutMs: number
  /** Requests served at once across all peers. */
  maxSessions: number
}

/** The responder side of /ehrlog/repair/1.0.0: one request per stream, answered then closed. */
export class RepairServer extends MemberResponder {
  constructor(private readonly opts: RepairServerOptions) {
    super({
      ...opts,
      protocol: REPAIR_PROTOCOL,
      maxInboundStreams: 2,
      frames: repairFrames,
      maxFrameBytes: LIMITS.maxRepairFrameBytes,
    })
  }

  protected async serve(session: ResponderSession): Promise<void> {
    const { lp, signal, peer, member } = session
    let frame: RepairFrame
    try {
      frame = decodeRepairFrame((await lp.read({ signal: signal() })).subarray())
      if (frame.type !== 'request') throw new Error(`first frame is ${frame.type}, want request`)
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || this.stopping) throw err
      this.opts.log.warn(
        { peer, peerName: member.name, code: 'ARGUMENT_INVALID', reason: (err as Error).message },
        'refused repair: malformed request',
      )
      return session.refuse('ARGUMENT_INVALID', (err as Error).message)
    }
    if (!bytesEqual(frame.networkId, this.opts.networkId)) {
      return session.refuse('FORBIDDEN', 'network id differs')
    }
    const { origin, treeSize, ranges } = frame.request
    const held = this.opts.membership.isOrigin(origin) ? this.opts.source.size(origin) : 0
    if (treeSize > held) {
      return session.refuse(
        'NOT_FOUND',
        `this replica holds ${held} entries of ${origin}, not ${treeSize}`,
      )
    }
    await this.answer(session, origin, treeSize, seqsOf(ranges))
  }

  /** HEAD (if held), one ENTRY per readable seq, DONE; written in groups with backpressure. */
  private async answer(
    session: ResponderSession,
    origin: string,
    treeSize: number,
    seqs: number[],
  ): Promise<void> {
    const out = session.writer(LIMITS.targetSyncFrameBytes)
    const head = await this.opts.source.headAt(origin, treeSize).catch(() => undefined)
    if (head) await out.send(encodeRepairFrame({ type: 'head', head }))
    for (const seq of seqs) {
      // An entry this replica cannot read is left out; the requester asks another peer.
      const proven = await this.opts.source
        .entryWithProof(origin, seq, treeSize)
        .catch(() => undefined)
      if (proven) await out.send(encodeRepairFrame({ type: 'entry', seq, ...proven }))
    }
    await out.send(encodeRepairFrame({ type: 'done' }))
    await out.flush()
  }
}
