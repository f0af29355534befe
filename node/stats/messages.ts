import type { KeyObject } from 'node:crypto'
import { canonicalJson } from '../core/canonical-json.ts'
import { EhrlogError } from '../core/errors.ts'
import { signEd25519, verifyEd25519 } from '../core/tree-head.ts'

/*
 * Messages of the statistics on the member-only control topic `stats` (docs/protocol.md,
 * "Statistics"). Gossip forwards messages, so the peer a message came from is not always its
 * sender: every message names its sender (`from`) and carries its Ed25519 signature over
 * UTF8("ehrlog/stats-message/v1") || 0x00 || RFC 8785 JSON of the message without `sig`,
 * checked against network.json before anything else.
 *
 *   dkg-share       a dealer's share for one member, sealed to that member (share-box.ts)
 *   decrypt-request a combiner asks for decryption shares of a group's sum for a period
 *   decrypt-share   a member's shares of the published cells with one Chaum–Pedersen proof
 *   decrypt-refusal a member refuses a request, with the reason code
 *   bundle          a combined statistics bundle (base64), for every member's public page
 *   bundle-announce a bundle too large for a message (over MAX_INLINE_BUNDLE_BYTES): its
 *                   name, size and SHA-256; members fetch it from the sender over
 *                   /ehrlog/stats-bundle/1.0.0 (bundle-fetch.ts)
 */

/**
 * The largest bundle sent inside a `bundle` message: its base64 (196 608 characters) stays
 * under the 200 000 characters a message field may hold, and the message under the topic's
 * 256 KiB. Larger ones are announced.
 */
export const MAX_INLINE_BUNDLE_BYTES = 144 * 1024

export type StatsMessage =
  | { type: 'dkg-share'; from: string; generation: number; dealer: number; to: string; box: string }
  | {
      type: 'decrypt-request'
      from: string
      id: string
      period: string
      origins: string[]
      cells: number[]
    }
  | {
      type: 'decrypt-share'
      from: string
      id: string
      member: number
      shares: string[]
      proof: string
    }
  | {
      type: 'decrypt-refusal'
      from: string
      id: string
      code: string
      reason: string
      message: string
    }
  | { type: 'bundle'; from: string; file: string; bundle: string }
  | { type: 'bundle-announce'; from: string; file: string; size: number; digest: string }

const TAG = 'ehrlog/stats-message/v1'
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function signingBytes(m: StatsMessage): Uint8Array {
  return utf8.encode(`${TAG}\u0000${canonicalJson(m)}`)
}

export function encodeStatsMessage(m: StatsMessage, key: KeyObject): Uint8Array {
  const sig = Buffer.from(signEd25519(key, signingBytes(m))).toString('hex')
  return utf8.encode(JSON.stringify({ ...m, sig }))
}

function bad(message: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `stats message: ${message}`)
}

const HEX = /^[0-9a-f]*$/
const ID = /^[0-9a-f]{32}$/
const str = (v: unknown, what: string, pattern?: RegExp): string => {
  if (typeof v !== 'string' || v.length > 200_000 || (pattern && !pattern.test(v)))
    throw bad(`${what} is not valid`)
  return v
}
const int = (v: unknown, what: string): number => {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(`${what} is not an integer`)
  return v as number
}
const strings = (v: unknown, what: string, pattern?: RegExp): string[] => {
  if (!Array.isArray(v) || v.length > 1000) throw bad(`${what} is not a list`)
  return v.map((x, i) => str(x, `${what}[${i}]`, pattern))
}

/**
 * Parses and authenticates a message: `publicKeyOf(from)` is the sender's Ed25519 key from
 * network.json (undefined: not a member). Throws MESSAGE_INVALID naming what is wrong.
 */
export function decodeStatsMessage(
  data: Uint8Array,
  publicKeyOf: (member: string) => Uint8Array | undefined,
): StatsMessage {
  let v: Record<string, unknown>
  try {
    v = JSON.parse(fromUtf8.decode(data)) as Record<string, unknown>
  } catch {
    throw bad('not UTF-8 JSON')
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not an object')
  const from = str(v.from, 'from')
  let m: StatsMessage
  switch (v.type) {
    case 'dkg-share':
      m = {
        type: 'dkg-share',
        from,
        generation: int(v.generation, 'generation'),
        dealer: int(v.dealer, 'dealer'),
        to: str(v.to, 'to'),
        box: str(v.box, 'box', HEX),
      }
      break
    case 'decrypt-request':
      m = {
        type: 'decrypt-request',
        from,
        id: str(v.id, 'id', ID),
        period: str(v.period, 'period'),
        origins: strings(v.origins, 'origins'),
        cells: (Array.isArray(v.cells) ? v.cells : [null]).map((c, i) => int(c, `cells[${i}]`)),
      }
      break
    case 'decrypt-share':
      m = {
        type: 'decrypt-share',
        from,
        id: str(v.id, 'id', ID),
        member: int(v.member, 'member'),
        shares: strings(v.shares, 'shares', /^[0-9a-f]{64}$/),
        proof: str(v.proof, 'proof', /^[0-9a-f]{128}$/),
      }
      break
    case 'decrypt-refusal':
      m = {
        type: 'decrypt-refusal',
        from,
        id: str(v.id, 'id', ID),
        code: str(v.code, 'code'),
        reason: str(v.reason, 'reason'),
        message: str(v.message, 'message'),
      }
      break
    case 'bundle':
      m = {
        type: 'bundle',
        from,
        file: str(v.file, 'file', /^[0-9T-]+\.[a-z0-9][a-z0-9-]{0,62}\.stats$/),
        bundle: str(v.bundle, 'bundle', /^[A-Za-z0-9+/]*={0,2}$/),
      }
      break
    case 'bundle-announce':
      m = {
        type: 'bundle-announce',
        from,
        file: str(v.file, 'file', /^[0-9T-]+\.[a-z0-9][a-z0-9-]{0,62}\.stats$/),
        size: int(v.size, 'size'),
        digest: str(v.digest, 'digest', /^[0-9a-f]{64}$/),
      }
      break
    default:
      throw bad(`unknown type ${JSON.stringify(v.type)}`)
  }
  const key = publicKeyOf(from)
  if (!key) throw bad(`${from} is not a member`)
  const sig =
    typeof v.sig === 'string' && /^[0-9a-f]{128}$/.test(v.sig)
      ? Buffer.from(v.sig, 'hex')
      : undefined
  if (!sig || !verifyEd25519(key, signingBytes(m), sig))
    throw bad(`the signature of ${from} does not verify`)
  return m
}
