import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { bytesEqual } from '../core/hex.ts'
import type { NetHost } from './host.ts'
import type { Membership } from './membership.ts'
import { LIMITS, SYNC_PROTOCOL } from './protocol.ts'
import type { ReplicaStore } from './replica-store.ts'
import { decodeFrame, encodeFrame, entriesFrames, type SyncFrame } from './sync-frames.ts'

export interface SyncServerOptions {
  host: NetHost
  membership: Membership
  store: ReplicaStore
  log: Logger
  networkId: Uint8Array
  /** Longest wait for one frame to arrive or be written. */
  timeoutMs: number
  /** Sessions served at once across all peers. */
  maxSessions: number
}

/** The responder side of /ehrlog/sync/1.0.0: answers a state vector, then PULLs. */
export class SyncServer {
  private sessions = 0
  private readonly active = new Set<Promise<void>>()
  private readonly controller = new AbortController()

  constructor(private readonly opts: SyncServerOptions) {}

  async start(): Promise<void> {
    await this.opts.host.handle(
      SYNC_PROTOCOL,
      (stream, connection) => {
        const p = this.serve(stream, connection).finally(() => this.active.delete(p))
        this.active.add(p)
      },
      { maxInboundStreams: 4 },
    )
  }

  async stop(): Promise<void> {
    this.controller.abort()
    await this.opts.host.unhandle(SYNC_PROTOCOL).catch(() => {})
    await Promise.allSettled([...this.active])
  }

  private signal(): AbortSignal {
    return AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.opts.timeoutMs)])
  }

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const { membership, log } = this.opts
    const peer = connection.remotePeer.toString()
    const member = membership.byPeerId(peer)
    const lp = lpStream(stream, { maxDataLength: LIMITS.maxSyncFrameBytes })
    let counted = false
    try {
      if (!member) {
        log.warn({ peer, code: 'FORBIDDEN' }, 'refused sync: peer is not a member')
        await this.refuse(
          lp,
          stream,
          'FORBIDDEN',
          `peer ${peer} is not a member of network ${membership.networkId}`,
        )
        return
      }
      if (this.sessions >= this.opts.maxSessions) {
        await this.refuse(
          lp,
          stream,
          'RATE_LIMITED',
          `serving ${this.sessions} sync sessions, try later`,
        )
        return
      }
      this.sessions++
      counted = true
      const hello = decodeFrame((await lp.read({ signal: this.signal() })).subarray())
      if (hello.type !== 'state') throw new Error(`first frame is ${hello.type}, want state`)
      if (!bytesEqual(hello.networkId, this.opts.networkId)) {
        log.warn(
          { peer, peerName: member.name, code: 'FORBIDDEN' },
          'refused sync: different network id',
        )
        await this.refuse(lp, stream, 'FORBIDDEN', 'network id differs: network.json files differ')
        return
      }
      const sizes = await this.opts.store.sizes()
      await lp.write(encodeFrame({ type: 'state', networkId: this.opts.networkId, sizes }), {
        signal: this.signal(),
      })
      for (;;) {
        let data: Uint8Array
        try {
          data = (await lp.read({ signal: this.signal() })).subarray()
        } catch (err) {
          // The puller closes its write end when it is done: a clean end between frames.
          if ((err as Error).name === 'UnexpectedEOFError') break
          throw err
        }
        const frame = decodeFrame(data)
        if (frame.type !== 'pull') throw new Error(`got ${frame.type} frame, want pull`)
        await this.servePull(lp, frame)
      }
      await stream.close({ signal: this.signal() })
    } catch (err) {
      if (!this.controller.signal.aborted) {
        log.debug(
          { peer, peerName: member?.name, err: (err as Error).message },
          'sync session ended with error',
        )
      }
      stream.abort(err as Error)
    } finally {
      if (counted) this.sessions--
    }
  }

  /**
   * Sends whole batches from `fromSeq`, each as ENTRIES frames then its HEAD, then DONE.
   * Frames are written in groups of about targetSyncFrameBytes; `lp.write` waits for the
   * stream's 'drain' event whenever send() reports a full buffer, so memory stays bounded
   * by one group plus the one batch read from the store.
   */
  private async servePull(
    lp: LengthPrefixedStream<Stream>,
    pull: Extract<SyncFrame, { type: 'pull' }>,
  ): Promise<void> {
    const max = Math.min(Math.max(pull.maxEntries, 1), LIMITS.maxEntriesPerPull)
    const batches = this.opts.membership.byName(pull.origin)
      ? await this.opts.store.readBatches(pull.origin, pull.fromSeq, max)
      : []
    let group: Uint8Array[] = []
    let groupBytes = 0
    const send = async (frame: SyncFrame, flush = false) => {
      const bytes = encodeFrame(frame)
      group.push(bytes)
      groupBytes += bytes.byteLength
      if (flush || groupBytes >= LIMITS.targetSyncFrameBytes) {
        await lp.writeV(group, { signal: this.signal() })
        group = []
        groupBytes = 0
      }
    }
    for (const batch of batches) {
      for (const frame of entriesFrames(batch.entries, LIMITS.targetSyncFrameBytes))
        await send(frame)
      await send({ type: 'head', head: batch.head })
    }
    await send({ type: 'done' }, true)
  }

  private async refuse(
    lp: LengthPrefixedStream<Stream>,
    stream: Stream,
    code: string,
    message: string,
  ) {
    await lp.write(encodeFrame({ type: 'error', code, message }), { signal: this.signal() })
    await stream.close({ signal: this.signal() })
  }
}
