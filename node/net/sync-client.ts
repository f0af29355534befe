import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { EhrlogError, type ErrorCode } from '../core/errors.ts'
import { bytesEqual } from '../core/hex.ts'
import type { Acceptor } from './acceptor.ts'
import type { NetHost } from './host.ts'
import type { NetMembers } from './net-members.ts'
import { LIMITS, SYNC_PROTOCOL } from './protocol.ts'
import { PullWindow } from './pull-window.ts'
import type { FeedBatch, ReplicaStore } from './replica-store.ts'
import { decodeFrame, encodeFrame, type SyncFrame } from './sync-frames.ts'

export interface PullOptions {
  host: NetHost
  membership: NetMembers
  store: ReplicaStore
  acceptor: Acceptor
  networkId: Uint8Array
  timeoutMs: number
  /**
   * Origins some session is pulling right now, each with a promise that settles when it lets
   * go: shared, so that two peers are not asked for one range.
   */
  pulling: Map<string, Promise<void>>
  /**
   * How long gossip may take to bring what the peer holds more of before it is pulled (0:
   * pull at once). Anti-entropy rounds give it a moment: during steady ingest the peer is
   * always a few batches ahead, and pulling those would only duplicate gossip's work.
   */
  graceMs?: number
  /** Told of the peer's state vector once it arrived (sync.ts PeerSizesListener). */
  onPeerSizes?: (peer: string, sizes: ReadonlyMap<string, number>) => void
}

export interface PullResult {
  /** Entries stored. */
  stored: number
  /**
   * Origins this peer holds more of that another session was pulling: each promise settles
   * when that session lets go. If it failed, they are still missing: pull again after.
   */
  deferred: Promise<void>[]
}

const REFUSAL_CODES = new Set<string>(['FORBIDDEN', 'RATE_LIMITED', 'UNAVAILABLE'])

function protocolError(peer: string, message: string): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `sync with ${peer}: ${message}`, { details: { peer } })
}

/**
 * The puller side of /ehrlog/sync/1.0.0: exchanges state vectors with `peer`, then pulls
 * every origin the peer holds more of, whoever that origin is, so the entries of an offline
 * origin still spread, one origin at a time, each through a window of PULLs (pullOrigin).
 */
export async function pullFrom(
  opts: PullOptions,
  peer: string,
  signal: AbortSignal,
): Promise<PullResult> {
  const op = () => AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)])
  const stream = await opts.host.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, {
    signal: op(),
  })
  // Responses are read as they arrive (pullOrigin): the buffer holds at most the frames a
  // responder sent ahead of one read, which its PULLs bound.
  const lp = lpStream(stream, {
    maxDataLength: LIMITS.maxSyncFrameBytes,
    maxBufferSize: 32 * 1024 * 1024,
  })
  const read = async (readSignal = op()): Promise<SyncFrame> => {
    const frame = decodeFrame((await lp.read({ signal: readSignal })).subarray())
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
    opts.store.peerSizes?.(theirs.sizes)
    opts.onPeerSizes?.(peer, theirs.sizes)
    const result: PullResult = { stored: 0, deferred: [] }
    const ahead = [...theirs.sizes].filter(
      ([origin, size]) => size > (mine.get(origin) ?? 0) && opts.membership.isOrigin(origin),
    )
    if (ahead.length > 0 && opts.graceMs) await awaitGossip(opts, ahead, opts.graceMs, signal)
    const held = await opts.store.sizes()
    for (const [origin, size] of ahead) {
      if (size <= (held.get(origin) ?? 0)) continue
      const elsewhere = opts.pulling.get(origin)
      if (elsewhere) {
        result.deferred.push(elsewhere)
        continue
      }
      let release = () => {}
      opts.pulling.set(
        origin,
        new Promise((resolve) => {
          release = resolve
        }),
      )
      try {
        // Gossip may have delivered more since the state exchange: start from what we hold now.
        const have = (await opts.store.sizes()).get(origin) ?? 0
        result.stored += await pullOrigin({ opts, lp, read, peer, op }, origin, have, size)
      } finally {
        opts.pulling.delete(origin)
        release()
      }
    }
    await stream.close({ signal: op() })
    return result
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** Waits until this store holds `ahead`'s sizes (gossip brought them) or `graceMs` passed. */
async function awaitGossip(
  opts: PullOptions,
  ahead: Array<[string, number]>,
  graceMs: number,
  signal: AbortSignal,
): Promise<void> {
  const deadline = performance.now() + graceMs
  while (performance.now() < deadline && !signal.aborted) {
    const held = await opts.store.sizes()
    if (ahead.every(([origin, size]) => (held.get(origin) ?? 0) >= size)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface PullContext {
  opts: PullOptions
  lp: LengthPrefixedStream<Stream>
  read: (signal: AbortSignal) => Promise<SyncFrame>
  peer: string
  op: () => AbortSignal
}

/**
 * Pulls `origin` from `have + 1` up to at least `target` through a PullWindow: the reader
 * sends the next PULL as soon as a response is read, while earlier responses are still being
 * verified and stored, with at most LIMITS.syncPullWindow PULLs outstanding. Batches are
 * stored strictly in order (the acceptor verifies each in full first); a batch that does not
 * start right after the previous one ends the session.
 */
async function pullOrigin(
  ctx: PullContext,
  origin: string,
  have: number,
  target: number,
): Promise<number> {
  const window = new PullWindow<FeedBatch[]>(LIMITS.syncPullWindow)
  // Ends the reader's wait for a frame when the writer fails: the stream is aborted after.
  const local = new AbortController()
  const signal = () => AbortSignal.any([ctx.op(), local.signal])
  const readAhead = async () => {
    let next = have + 1 // the reader's own cursor: `have` moves as batches are stored
    while (next <= target) {
      await window.reserve()
      const pull: SyncFrame = {
        type: 'pull',
        origin,
        fromSeq: next,
        maxEntries: LIMITS.maxEntriesPerPull,
      }
      await ctx.lp.write(encodeFrame(pull), { signal: signal() })
      const batches = await readResponse(ctx, origin, next, signal)
      if (batches.length === 0) {
        window.release() // the peer holds no more than we asked from
        break
      }
      next = (batches.at(-1) as FeedBatch).head.treeSize + 1
      window.push(batches)
    }
    window.close()
  }
  let stored = 0
  // Two batches in the store at a time: the acceptor hands the next one over once the store
  // has taken this one, so it is verified while this one is written.
  let writing: { batch: FeedBatch; done: Promise<void> } | undefined
  const settle = async () => {
    if (!writing) return
    const { batch, done } = writing
    writing = undefined
    await done
    // Counted for the log: gossip may have stored some of these entries meanwhile.
    stored += Math.max(0, batch.head.treeSize - have)
    have = Math.max(have, batch.head.treeSize)
  }
  const storeInOrder = async () => {
    try {
      for (let batches = await window.take(); batches; batches = await window.take()) {
        for (const batch of batches) {
          const done = storeBatch(ctx, batch)
          done.catch(() => {}) // awaited below, after the batch before it
          await settle()
          writing = { batch, done }
        }
        window.done()
      }
      await settle()
    } finally {
      // Ending on an error: the batch still in the store is waited for, its error dropped.
      await writing?.done.catch(() => {})
    }
  }
  const results = await Promise.allSettled([
    readAhead().catch((err: unknown) => {
      window.fail(err)
      throw err
    }),
    storeInOrder().catch((err: unknown) => {
      window.fail(err)
      local.abort(err)
      throw err
    }),
  ])
  for (const r of results) if (r.status === 'rejected') throw r.reason
  return stored
}

/** Reads one PULL's answer: whole batches, each starting where the one before ended, then DONE. */
async function readResponse(
  ctx: PullContext,
  origin: string,
  fromSeq: number,
  signal: () => AbortSignal,
): Promise<FeedBatch[]> {
  const batches: FeedBatch[] = []
  let next = fromSeq
  let entries: Uint8Array[] = []
  for (;;) {
    const frame = await ctx.read(signal())
    if (frame.type === 'done') break
    if (frame.type === 'entries') {
      if (entries.length + frame.entries.length > LIMITS.maxBatchEntries) {
        throw protocolError(
          ctx.peer,
          `batch of ${origin} exceeds ${LIMITS.maxBatchEntries} entries`,
        )
      }
      for (const e of frame.entries) entries.push(e)
      continue
    }
    if (frame.type !== 'head' || frame.head.origin !== origin || entries.length === 0) {
      throw protocolError(ctx.peer, `unexpected ${frame.type} frame in a response for ${origin}`)
    }
    const { head } = frame
    // Asked from `next`: anything else would be a gap, or data nobody asked for.
    if (head.treeSize - entries.length + 1 !== next) {
      throw protocolError(
        ctx.peer,
        `batch of ${origin} covers ${head.treeSize - entries.length + 1}..${head.treeSize}, want it to start at ${next}`,
      )
    }
    batches.push({ origin, entries, head })
    next = head.treeSize + 1
    entries = []
  }
  if (entries.length > 0) throw protocolError(ctx.peer, `entries of ${origin} without a head`)
  return batches
}

/** Verifies and stores one batch through the acceptor; throws unless stored (or held already). */
async function storeBatch(ctx: PullContext, batch: FeedBatch): Promise<void> {
  const outcome = await ctx.opts.acceptor.accept(batch, ctx.peer)
  // Rejected (already logged with the peer): the peer serves bad data, so stop this session
  // rather than read more of it.
  if (outcome.status === 'rejected') throw outcome.error
  if (outcome.status === 'gap') {
    throw protocolError(
      ctx.peer,
      `batch of ${batch.origin} ending at ${batch.head.treeSize} leaves a gap after ${outcome.have}`,
    )
  }
}
