import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { EhrlogError, type ErrorCode } from '../core/errors.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import type { NetHost } from './host.ts'
import { LIMITS, REPAIR_PROTOCOL } from './protocol.ts'
import {
  decodeRepairFrame,
  encodeRepairFrame,
  type ProvenEntryBytes,
  type RepairFrame,
  type RepairRequest,
  seqsOf,
} from './repair-frames.ts'

/**
 * A peer's answer, parsed but NOT verified: the head may be forged and the proofs wrong.
 * Whoever writes any of it must check it against a root it trusts first.
 */
export interface RepairResponse {
  head: SignedTreeHead | undefined
  entries: Map<number, ProvenEntryBytes>
}

export interface RepairClientOptions {
  host: NetHost
  networkId: Uint8Array
  /** Longest wait for the dial, each frame and each write. */
  timeoutMs: number
}

const PASSED_ON = new Set<string>(['FORBIDDEN', 'RATE_LIMITED', 'NOT_FOUND', 'ARGUMENT_INVALID'])

function protocolError(peer: string, message: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `repair answer from ${peer}: ${message}`, {
    details: { peer },
  })
}

/**
 * Sends one request of /ehrlog/repair/1.0.0 to `peer` and reads its answer. Throws the peer's
 * ERROR code (FORBIDDEN, RATE_LIMITED, NOT_FOUND, ARGUMENT_INVALID, else UNAVAILABLE) or
 * MESSAGE_INVALID when the answer breaks the protocol (an entry not asked for, a head of
 * another feed, a second head).
 */
export async function requestRepair(
  opts: RepairClientOptions,
  peer: string,
  request: RepairRequest,
  signal?: AbortSignal,
): Promise<RepairResponse> {
  const op = () =>
    AbortSignal.any([...(signal ? [signal] : []), AbortSignal.timeout(opts.timeoutMs)])
  const stream = await opts.host.dialProtocol(peerIdFromString(peer), REPAIR_PROTOCOL, {
    signal: op(),
  })
  const lp = lpStream(stream, {
    maxDataLength: LIMITS.maxRepairFrameBytes,
    maxBufferSize: 8 * LIMITS.maxRepairFrameBytes,
  })
  try {
    await lp.write(encodeRepairFrame({ type: 'request', networkId: opts.networkId, request }), {
      signal: op(),
    })
    const wanted = new Set(seqsOf(request.ranges))
    const response: RepairResponse = { head: undefined, entries: new Map() }
    for (;;) {
      const frame: RepairFrame = decodeRepairFrame((await lp.read({ signal: op() })).subarray())
      if (frame.type === 'done') break
      if (frame.type === 'error') {
        const code = (PASSED_ON.has(frame.code) ? frame.code : 'UNAVAILABLE') as ErrorCode
        throw new EhrlogError(code, `${peer} refused repair: ${frame.code}: ${frame.message}`, {
          details: { peer },
        })
      }
      if (frame.type === 'head') {
        const { head } = frame
        if (response.head || response.entries.size > 0)
          throw protocolError(peer, 'a head after the first frame')
        if (head.origin !== request.origin || head.treeSize !== request.treeSize) {
          throw protocolError(
            peer,
            `head of ${head.origin} at ${head.treeSize}, asked for ${request.origin} at ${request.treeSize}`,
          )
        }
        response.head = head
        continue
      }
      if (frame.type !== 'entry') throw protocolError(peer, `unexpected ${frame.type} frame`)
      if (!wanted.delete(frame.seq))
        throw protocolError(peer, `entry ${frame.seq} was not asked for, or came twice`)
      // Copies: the frame's views share the read buffer.
      response.entries.set(frame.seq, {
        bytes: new Uint8Array(frame.bytes),
        proof: frame.proof.map((h) => new Uint8Array(h)),
      })
    }
    await stream.close({ signal: op() }).catch(() => {})
    return response
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
