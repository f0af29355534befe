import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { EhrlogError, type ErrorCode } from '../core/errors.ts'
import { bytesEqual } from '../core/hex.ts'
import type { Acceptor } from './acceptor.ts'
import type { NetHost } from './host.ts'
import type { Membership } from './membership.ts'
import { LIMITS, SYNC_PROTOCOL } from './protocol.ts'
import type { ReplicaStore } from './replica-store.ts'
import { decodeFrame, encodeFrame, type SyncFrame } from './sync-frames.ts'

export interface PullOptions {
  host: NetHost
  membership: Membership
  store: ReplicaStore
  acceptor: Acceptor
  networkId: Uint8Array
  timeoutMs: number
  /** Origins some session is pulling right now, shared so two peers are not asked for one range. */
  pulling: Set<string>
}

const REFUSAL_CODES = new Set<string>(['FORBIDDEN', 'RATE_LIMITED', 'UNAVAILABLE'])

function protocolError(peer: string, message: string): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `sync with ${peer}: ${message}`, { details: { peer } })
}

/**
 * The puller side of /ehrlog/sync/1.0.0: exchanges state vectors with `peer`, then pulls
 * every origin the peer holds more of, whoever that origin is, so the entries of an offline
 * origin still spread. One PULL at a time per stream keeps at most one response in flight.
 * Returns the number of entries stored.
 */
export async function pullFrom(
  opts: PullOptions,
  peer: string,
  signal: AbortSignal,
): Promise<number> {
  const op = () => AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)])
  const stream = await opts.host.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, {
    signal: op(),
  })
  // The read buffer must hold a response's frames that arrive while a batch is being
  // verified: one PULL's worth (maxEntriesPerPull, or one larger batch).
  const lp = lpStream(stream, {
    maxDataLength: LIMITS.maxSyncFrameBytes,
    maxBufferSize: 32 * 1024 * 1024,
  })
  const read = async (): Promise<SyncFrame> => {
    const frame = decodeFrame((await lp.read({ signal: op() })).subarray())
    if (frame.type === 'error') {
      const code = (REFUSAL_CODES.has(frame.code) ? frame.code : 'UNAVAILABLE') as ErrorCode
      throw new EhrlogError(code, `${peer} refused sync: ${frame.code}: ${frame.message}`, {
        details: { peer },
      })
    }
    return frame
  }
  try {
    const mine = await opts.store.sizes()
    await lp.write(encodeFrame({ type: 'state', networkId: opts.networkId, sizes: mine }), {
      signal: op(),
    })
    const theirs = await read()
    if (theirs.type !== 'state') throw protocolError(peer, `got ${theirs.type}, want state`)
    if (!bytesEqual(theirs.networkId, opts.networkId))
      throw protocolError(peer, 'network id differs')
    let stored = 0
    for (const [origin, size] of theirs.sizes) {
      if (
        size <= (mine.get(origin) ?? 0) ||
        opts.pulling.has(origin) ||
        !opts.membership.byName(origin)
      )
        continue
      opts.pulling.add(origin)
      try {
        // Gossip may have delivered more since the state exchange: start from what we hold now.
        const have = (await opts.store.sizes()).get(origin) ?? 0
        stored += await pullOrigin(opts, lp, read, peer, origin, have, size, op)
      } finally {
        opts.pulling.delete(origin)
      }
    }
    await stream.close({ signal: op() })
    return stored
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

async function pullOrigin(
  opts: PullOptions,
  lp: LengthPrefixedStream<Stream>,
  read: () => Promise<SyncFrame>,
  peer: string,
  origin: string,
  have: number,
  target: number,
  op: () => AbortSignal,
): Promise<number> {
  let stored = 0
  while (have < target) {
    const before = have
    await lp.write(
      encodeFrame({
        type: 'pull',
        origin,
        fromSeq: have + 1,
        maxEntries: LIMITS.maxEntriesPerPull,
      }),
      { signal: op() },
    )
    let entries: Uint8Array[] = []
    for (;;) {
      const frame = await read()
      if (frame.type === 'done') break
      if (frame.type === 'entries') {
        if (entries.length + frame.entries.length > LIMITS.maxBatchEntries) {
          throw protocolError(peer, `batch of ${origin} exceeds ${LIMITS.maxBatchEntries} entries`)
        }
        for (const e of frame.entries) entries.push(e)
        continue
      }
      if (frame.type !== 'head' || frame.head.origin !== origin || entries.length === 0) {
        throw protocolError(peer, `unexpected ${frame.type} frame in a response for ${origin}`)
      }
      const outcome = await opts.acceptor.accept({ origin, entries, head: frame.head }, peer)
      // Rejected (already logged with the peer) or not starting where we asked: the peer
      // serves bad data, so stop this session rather than read more of it.
      if (outcome.status === 'rejected') throw outcome.error
      if (outcome.status === 'gap') {
        throw protocolError(
          peer,
          `batch of ${origin} ending at ${frame.head.treeSize} leaves a gap after ${outcome.have}`,
        )
      }
      if (outcome.status === 'stored') stored += Math.max(0, outcome.treeSize - have)
      have = Math.max(have, outcome.treeSize)
      entries = []
    }
    if (have === before) break
  }
  return stored
}
