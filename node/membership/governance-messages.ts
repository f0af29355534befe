import { EhrlogError } from '../core/errors.ts'
import { parseSignedProposal, type SignedProposal } from '../core/trust/index.ts'

/*
 * The message of the member-only `membership` control topic (docs/protocol.md, "Membership
 * changes"): one signed proposal with any subset of its signatures, JSON in UTF-8.
 */

export const MEMBERSHIP_TOPIC = 'membership'
export const GOVERNANCE_MESSAGE_VERSION = 1

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeGovernanceMessage(signed: SignedProposal): Uint8Array {
  return utf8.encode(JSON.stringify({ v: GOVERNANCE_MESSAGE_VERSION, type: 'proposal', signed }))
}

/** Parses an untrusted message; MESSAGE_INVALID naming what is wrong. */
export function decodeGovernanceMessage(data: Uint8Array): SignedProposal {
  let value: unknown
  try {
    value = JSON.parse(utf8Decoder.decode(data))
  } catch {
    throw bad('not UTF-8 JSON', 'message')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('not an object', 'message')
  const { v, type, signed, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw bad(`${unknown.slice(0, 40)} is not a known field`, unknown)
  if (v !== GOVERNANCE_MESSAGE_VERSION)
    throw bad(`version ${String(v)}, want ${GOVERNANCE_MESSAGE_VERSION}`, 'v')
  if (type !== 'proposal') throw bad(`unknown type ${JSON.stringify(type)}`, 'type')
  return parseSignedProposal(signed, 'membership message: signed')
}

function bad(message: string, field: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `membership message: ${message}`, {
    details: { field },
  })
}
