import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { EhrlogError, type ErrorCode } from '../core/errors.ts'
import { sha256 } from '../core/merkle/index.ts'
import { bytesHex } from '../core/stats/index.ts'
import type { NetHost } from '../net/host.ts'
import { MemberResponder, type ResponderSession } from '../net/member-responder.ts'
import type { NetMembers } from '../net/net-members.ts'

/*
 * /ehrlog/stats-bundle/1.0.0 (docs/protocol.md, "Statistics"): a member fetches a statistics
 * bundle another member announced on the `stats` topic, when it is too large for a control
 * message. Member-only (a bundle is public, but the protocol serves members' gossip only).
 * One request per stream:
 *
 *   request  UTF-8 JSON {"v": 1, "networkId": hex, "file": "<period>.<group>.stats"}
 *   answer   0x00 || the bundle's bytes, or 0x01 || UTF-8 JSON {"code", "message"}
 *
 * The fetcher checks the size and SHA-256 the announcement gave, then the bundle itself
 * (verifyStatsBundle) before keeping it; a server is trusted for nothing.
 */

export const STATS_BUNDLE_PROTOCOL = '/ehrlog/stats-bundle/1.0.0'
/** The largest bundle served or fetched: some 600 hospitals with anchors. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024
const MAX_REQUEST_BYTES = 1024
export const BUNDLE_FILE = /^[0-9T-]+\.[a-z0-9][a-z0-9-]{0,62}\.stats$/

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function errorFrame(code: string, message: string): Uint8Array {
  const json = utf8.encode(JSON.stringify({ code, message }))
  const out = new Uint8Array(1 + json.length)
  out[0] = 1
  out.set(json, 1)
  return out
}

/** Serves the bundles of this node's stats/bundles folder to members. */
export class BundleServer extends MemberResponder {
  constructor(
    private readonly o: {
      host: NetHost
      membership: NetMembers
      dir: string
      log: Logger
      timeoutMs?: number
    },
  ) {
    super({
      protocol: STATS_BUNDLE_PROTOCOL,
      host: o.host,
      membership: o.membership,
      log: o.log,
      timeoutMs: o.timeoutMs ?? 30_000,
      maxSessions: 4,
      maxInboundStreams: 2,
      maxFrameBytes: MAX_REQUEST_BYTES,
      frames: { encode: (f) => errorFrame(f.code, f.message) },
    })
  }

  protected async serve(session: ResponderSession): Promise<void> {
    const { lp, signal, member } = session
    let file: string
    try {
      const request = JSON.parse(fromUtf8.decode((await lp.read({ signal: signal() })).subarray()))
      if (request?.v !== 1 || request.networkId !== this.o.membership.networkId)
        return session.refuse('FORBIDDEN', 'another protocol version or network')
      file = request.file
      if (typeof file !== 'string' || !BUNDLE_FILE.test(file))
        throw new Error('file is not a bundle name like 2026-11-03.network.stats')
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || this.stopping) throw err
      return session.refuse('ARGUMENT_INVALID', (err as Error).message)
    }
    let bytes: Uint8Array
    try {
      bytes = await readFile(join(this.o.dir, 'bundles', file))
    } catch {
      return session.refuse('NOT_FOUND', `no bundle ${file}`)
    }
    this.o.log.debug({ peerName: member.name, file, bytes: bytes.length }, 'served a bundle')
    const frame = new Uint8Array(1 + bytes.length)
    frame.set(bytes, 1)
    await lp.write(frame, { signal: signal() })
  }
}

const PASSED_ON = new Set<string>(['FORBIDDEN', 'NOT_FOUND', 'ARGUMENT_INVALID', 'RATE_LIMITED'])

/**
 * Fetches `file` from member `from` and checks it is the announced one (`size` bytes with
 * SHA-256 `digest`, hex). Throws UNAVAILABLE, the server's refusal code, or MESSAGE_INVALID
 * for bytes that are not what was announced. The caller verifies the bundle itself.
 */
export async function fetchStatsBundle(
  dial: (member: string, protocol: string, signal: AbortSignal) => Promise<Stream>,
  networkId: string,
  from: string,
  announced: { file: string; size: number; digest: string },
  timeoutMs = 30_000,
): Promise<Uint8Array> {
  if (announced.size > MAX_BUNDLE_BYTES)
    throw new EhrlogError('PAYLOAD_TOO_LARGE', `a bundle of ${announced.size} bytes is too large`)
  const signal = AbortSignal.timeout(timeoutMs)
  let stream: Stream
  try {
    stream = await dial(from, STATS_BUNDLE_PROTOCOL, signal)
  } catch (cause) {
    throw new EhrlogError('UNAVAILABLE', `cannot reach ${from} for bundle ${announced.file}`, {
      cause,
      details: { peer: from },
    })
  }
  let frame: Uint8Array
  try {
    // Room for the bundle, or for a refusal (a short JSON) when it is tiny.
    const lp = lpStream(stream, { maxDataLength: Math.max(announced.size + 1, 4096) })
    await lp.write(utf8.encode(JSON.stringify({ v: 1, networkId, file: announced.file })), {
      signal,
    })
    frame = (await lp.read({ signal })).subarray()
    await stream.close({ signal }).catch(() => {})
  } catch (cause) {
    stream.abort(cause as Error)
    throw new EhrlogError('UNAVAILABLE', `${from} did not send bundle ${announced.file}`, {
      cause,
      details: { peer: from },
    })
  }
  if (frame[0] === 1) {
    let refusal: { code?: string; message?: string } = {}
    try {
      refusal = JSON.parse(fromUtf8.decode(frame.subarray(1)))
    } catch {}
    const code = (PASSED_ON.has(String(refusal.code)) ? refusal.code : 'UNAVAILABLE') as ErrorCode
    throw new EhrlogError(code, `${from} refused bundle ${announced.file}: ${refusal.message}`, {
      details: { peer: from },
    })
  }
  const bytes = frame.subarray(1)
  if (
    frame[0] !== 0 ||
    bytes.length !== announced.size ||
    bytesHex(sha256(bytes)) !== announced.digest
  )
    throw new EhrlogError(
      'MESSAGE_INVALID',
      `${from} sent ${bytes.length} bytes for bundle ${announced.file} that are not the ${announced.size} announced`,
      { details: { peer: from } },
    )
  // A copy in a plain Uint8Array: the frame may be a Buffer over the socket's pooled memory.
  return new Uint8Array(bytes)
}
