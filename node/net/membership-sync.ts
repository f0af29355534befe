import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { EhrlogError, type ErrorCode, isEhrlogError } from '../core/errors.ts'
import {
  type MembershipHistory,
  parseSignedProposal,
  type SignedProposal,
} from '../core/trust/index.ts'
import {
  BoundedResponder,
  decodeObject,
  type Exchange,
  encodeJson as encode,
} from './bounded-responder.ts'
import type { NetHost } from './host.ts'
import { LIMITS, MEMBERSHIP_PROTOCOL } from './protocol.ts'

/*
 * /ehrlog/membership/1.0.0 (docs/protocol.md, "Membership sync"): one request per stream, one
 * answer, then close. Frames are lpStream messages holding UTF-8 JSON:
 *   request  {v: 1, networkId, after}            "the changes after version `after`"
 *   answer   {ok: true, latest, changes: [signed change after+1, after+2, …]}
 *            | {ok: false, error: {code, message}}
 * Open to clients: the chain is as public as network.json, and a joining node asks before it
 * is a member. The answer is untrusted: the asker verifies each change against the version
 * before it (verifyMembershipAnswer) and applies none of them unless all verify.
 */

/** An answer as read off the wire: shaped, not yet verified. */
export interface MembershipAnswer {
  /** The newest version the answering node holds. */
  latest: number
  /** Signed changes making versions after+1 … after+changes.length. */
  changes: unknown[]
}

const isVersion = (n: unknown): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/** Codes a responder's refusal may carry to the asker as they are; others read UNAVAILABLE. */
const PASSED_ON = new Set<ErrorCode>([
  'FORBIDDEN',
  'MESSAGE_INVALID',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'UNAVAILABLE',
])

export interface MembershipServerOptions {
  host: NetHost
  /** The node's verified history, as it is at each request. */
  history: () => MembershipHistory
  log: Logger
  timeoutMs: number
  /** Requests served at once across all peers; more are refused with RATE_LIMITED. */
  maxSessions: number
}

/** The responder side of /ehrlog/membership/1.0.0. */
export class MembershipServer extends BoundedResponder {
  constructor(private readonly opts: MembershipServerOptions) {
    super({
      host: opts.host,
      protocol: MEMBERSHIP_PROTOCOL,
      maxInboundStreams: 2,
      maxSessions: opts.maxSessions,
      timeoutMs: opts.timeoutMs,
      maxRequestBytes: LIMITS.maxMembershipRequestBytes,
      busy: (n) => `serving ${n} membership requests`,
    })
  }

  protected async exchange({ lp, stream, signal }: Exchange): Promise<void> {
    const history = this.opts.history()
    const request = decodeObject((await lp.read({ signal })).subarray(), 'membership request')
    if (request.v !== 1) throw new EhrlogError('MESSAGE_INVALID', 'membership request v must be 1')
    if (request.networkId !== history.networkId)
      throw new EhrlogError('FORBIDDEN', 'network id differs: network.json files differ')
    if (!isVersion(request.after))
      throw new EhrlogError('MESSAGE_INVALID', 'after must be a version number (integer ≥ 0)')
    await lp.write(answerOf(history, request.after), { signal })
    await stream.close({ signal })
  }

  protected async refuse({ lp, stream, peer, signal }: Exchange, err: unknown): Promise<void> {
    let error = err
    if ((err as Error)?.name === 'InvalidDataLengthError')
      error = new EhrlogError(
        'PAYLOAD_TOO_LARGE',
        `membership request is larger than ${LIMITS.maxMembershipRequestBytes} bytes`,
      )
    const passed = isEhrlogError(error) && PASSED_ON.has(error.code)
    if (!this.controller.signal.aborted)
      this.opts.log.warn(
        { peer, code: passed ? (error as EhrlogError).code : undefined, err: String(error) },
        'membership request refused',
      )
    try {
      const body = passed
        ? { code: (error as EhrlogError).code, message: (error as EhrlogError).message }
        : { code: 'INTERNAL', message: 'internal error' }
      await lp.write(encode({ ok: false, error: body }), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

/**
 * The changes after `after`, at most maxMembershipChangesPerAnswer of them and as many as fit
 * in maxMembershipAnswerBytes; none when this node holds no newer version.
 */
function answerOf(history: MembershipHistory, after: number): Uint8Array {
  const from = history.applied.slice(after, after + LIMITS.maxMembershipChangesPerAnswer)
  for (let n = from.length; n >= 0; n--) {
    const bytes = encode({ ok: true, latest: history.latest, changes: from.slice(0, n) })
    if (bytes.byteLength <= LIMITS.maxMembershipAnswerBytes) return bytes
  }
  throw new EhrlogError('INTERNAL', 'an empty membership answer does not fit')
}

/**
 * Asks `peer` (connected, or with addresses in the peer store) for the changes after version
 * `after`. Returns the answer shaped but NOT verified. Throws UNAVAILABLE when the peer
 * cannot be reached or does not answer, PAYLOAD_TOO_LARGE for an answer over the limit,
 * MESSAGE_INVALID for a malformed one, and the peer's own code when it refused.
 */
export async function requestMembershipChanges(
  host: NetHost,
  peer: string,
  request: { networkId: string; after: number },
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<MembershipAnswer> {
  const signal = outer
    ? AbortSignal.any([outer, AbortSignal.timeout(timeoutMs)])
    : AbortSignal.timeout(timeoutMs)
  let stream: Stream
  try {
    stream = await host.dialProtocol(peerIdFromString(peer), MEMBERSHIP_PROTOCOL, { signal })
  } catch (cause) {
    throw new EhrlogError('UNAVAILABLE', `cannot ask ${peer} for membership changes`, {
      cause,
      details: { peer },
    })
  }
  const lp = lpStream(stream, { maxDataLength: LIMITS.maxMembershipAnswerBytes })
  let reply: Record<string, unknown>
  try {
    await lp.write(encode({ v: 1, ...request }), { signal })
    reply = decodeObject((await lp.read({ signal })).subarray(), `membership answer of ${peer}`)
    await stream.close({ signal }).catch(() => {})
  } catch (cause) {
    stream.abort(cause as Error)
    if (isEhrlogError(cause)) throw withPeer(cause, peer)
    if ((cause as Error)?.name === 'InvalidDataLengthError')
      throw new EhrlogError(
        'PAYLOAD_TOO_LARGE',
        `membership answer of ${peer} is larger than ${LIMITS.maxMembershipAnswerBytes} bytes`,
        { details: { peer, limitBytes: LIMITS.maxMembershipAnswerBytes } },
      )
    throw new EhrlogError('UNAVAILABLE', `${peer} did not answer the membership request`, {
      cause,
      details: { peer },
    })
  }
  return shapeOf(reply, peer, request.after)
}

function shapeOf(reply: Record<string, unknown>, peer: string, after: number): MembershipAnswer {
  if (reply.ok === false) {
    const error = (reply.error ?? {}) as { code?: unknown; message?: unknown }
    const code = (
      typeof error.code === 'string' && PASSED_ON.has(error.code as ErrorCode)
        ? error.code
        : 'UNAVAILABLE'
    ) as ErrorCode
    throw new EhrlogError(code, `${peer}: ${String(error.message ?? 'refused')}`, {
      details: { peer },
    })
  }
  const invalid = (why: string) =>
    new EhrlogError('MESSAGE_INVALID', `membership answer of ${peer}: ${why}`, {
      details: { peer },
    })
  if (reply.ok !== true) throw invalid('ok must be true or false')
  if (!isVersion(reply.latest)) throw invalid('latest must be a version number')
  if (!Array.isArray(reply.changes)) throw invalid('changes must be an array')
  if (reply.changes.length > LIMITS.maxMembershipChangesPerAnswer)
    throw invalid(
      `${reply.changes.length} changes, at most ${LIMITS.maxMembershipChangesPerAnswer} per answer`,
    )
  if (after + reply.changes.length > reply.latest)
    throw invalid(`${reply.changes.length} changes after ${after} pass latest ${reply.latest}`)
  return { latest: reply.latest, changes: reply.changes }
}

function withPeer(err: EhrlogError, peer: string): EhrlogError {
  return new EhrlogError(err.code, err.message, {
    details: { ...err.details, peer },
    cause: err,
  })
}

/**
 * Checks every change of `answer` against the version before it, starting from `history`'s
 * newest: all verify, or this throws the first refused one's code (CHAIN_BROKEN,
 * QUORUM_NOT_MET, MESSAGE_INVALID, …) with `details.index`, and none is to be applied.
 */
export function verifyMembershipAnswer(
  history: MembershipHistory,
  answer: MembershipAnswer,
  peer: string,
): SignedProposal[] {
  let reached = history
  const out: SignedProposal[] = []
  for (const [index, value] of answer.changes.entries()) {
    try {
      const signed = parseSignedProposal(value, `membership change ${index} from ${peer}`)
      reached = reached.extend(signed)
      out.push(signed)
    } catch (err) {
      if (!isEhrlogError(err)) throw err
      throw new EhrlogError(err.code, `membership answer of ${peer}: ${err.message}`, {
        details: { ...err.details, peer, index, version: history.latest + index + 1 },
        cause: err,
      })
    }
  }
  return out
}
