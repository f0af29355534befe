import type { Logger } from 'pino'
import { bytesEqual } from '../core/hex.ts'
import type { NetHost } from './host.ts'
import { MemberResponder, type ResponderSession } from './member-responder.ts'
import type { NetMembers } from './net-members.ts'
import { LIMITS, SYNC_PROTOCOL } from './protocol.ts'
import type { ReplicaStore } from './replica-store.ts'
import {
  decodeFrame,
  encodeFrame,
  entriesFrames,
  type SyncFrame,
  syncFrames,
} from './sync-frames.ts'

export interface SyncServerOptions {
  host: NetHost
  membership: NetMembers
  store: ReplicaStore
  log: Logger
  networkId: Uint8Array
  /** Longest wait for one frame to arrive or be written. */
  timeoutMs: number
  /** Sessions served at once across all peers. */
  maxSessions: number
  /** Told of the puller's state vector (sync.ts PeerSizesListener). */
  onPeerSizes?: (peer: string, sizes: ReadonlyMap<string, number>) => void
}

/**
 * The responder side of /ehrlog/sync/1.0.0: answers a state vector, then PULLs in the order
 * they arrive. A puller may send its next PULL before this answer is read (a window of
 * responses in flight): the frames wait in the stream until the current answer is written.
 */
export class SyncServer extends MemberResponder {
  constructor(private readonly opts: SyncServerOptions) {
    super({
      ...opts,
      protocol: SYNC_PROTOCOL,
      maxInboundStreams: 4,
      frames: syncFrames,
      maxFrameBytes: LIMITS.maxSyncFrameBytes,
    })
  }

  protected async serve(session: ResponderSession): Promise<void> {
    const { lp, signal } = session
    const hello = decodeFrame((await lp.read({ signal: signal() })).subarray())
    if (hello.type !== 'state') throw new Error(`first frame is ${hello.type}, want state`)
    if (!bytesEqual(hello.networkId, this.opts.networkId)) {
      this.opts.log.warn(
        { peer: session.peer, peerName: session.member.name, code: 'FORBIDDEN' },
        'refused sync: different network id',
      )
      return session.refuse('FORBIDDEN', 'network id differs: network.json files differ')
    }
    this.opts.store.peerSizes?.(hello.sizes)
    this.opts.onPeerSizes?.(session.peer, hello.sizes)
    const sizes = await this.opts.store.sizes()
    await lp.write(encodeFrame({ type: 'state', networkId: this.opts.networkId, sizes }), {
      signal: signal(),
    })
    for (;;) {
      let data: Uint8Array
      try {
        data = (await lp.read({ signal: signal() })).subarray()
      } catch (err) {
        // The puller closes its write end when it is done: a clean end between frames.
        if ((err as Error).name === 'UnexpectedEOFError') return
        throw err
      }
      const frame = decodeFrame(data)
      if (frame.type !== 'pull') throw new Error(`got ${frame.type} frame, want pull`)
      await this.servePull(session, frame)
    }
  }

  /**
   * Sends whole batches from `fromSeq`, each as ENTRIES frames then its HEAD, then DONE, in
   * groups of about targetSyncFrameBytes: memory stays bounded by one group plus the batches
   * read from the store for this PULL.
   */
  private async servePull(
    session: ResponderSession,
    pull: Extract<SyncFrame, { type: 'pull' }>,
  ): Promise<void> {
    const max = Math.min(Math.max(pull.maxEntries, 1), LIMITS.maxEntriesPerPull)
    const batches = this.opts.membership.isOrigin(pull.origin)
      ? await this.opts.store.readBatches(pull.origin, pull.fromSeq, max)
      : []
    const out = session.writer(LIMITS.targetSyncFrameBytes)
    for (const batch of batches) {
      for (const frame of entriesFrames(batch.entries, LIMITS.targetSyncFrameBytes))
        await out.send(encodeFrame(frame))
      await out.send(encodeFrame({ type: 'head', head: batch.head }))
    }
    await out.send(encodeFrame({ type: 'done' }))
    await out.flush()
  }
}
