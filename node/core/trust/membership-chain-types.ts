import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { canonicalJson } from '../canonical-json.ts'
import { EhrlogError } from '../errors.ts'
import { fromHex, toHex } from '../hex.ts'
import { membershipChangeMessage, ORIGIN_PATTERN, TAGS } from '../layout.ts'
import { sha256 } from '../merkle/hash.ts'
import { type Member, publicIdentitySchema } from './member.ts'

/*
 * The bytes of membership changes (docs/format.md, "Membership changes"): a change, the
 * proposal that places it on one version of one network, the signed proposal admins exchange,
 * and the hash that names the version a change makes. Shapes only; the rules are in
 * membership-chain.ts.
 */

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))
const name = z.string().regex(ORIGIN_PATTERN)
const peerId = z.string().refine((text) => {
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}, 'not a libp2p PeerId')
/** Whether the holder of a rotated key still has it (then it signs too) or lost it. */
const oldKey = z.enum(['held', 'lost'])

/** At most this many addresses per member, as at most 1000 members per network. */
export const MAX_ADDRESSES = 16

export const changeSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('add'), member: publicIdentitySchema }),
  z.strictObject({ type: z.literal('remove'), name }),
  z.strictObject({
    type: z.literal('rotate-ed25519'),
    name,
    ed25519PublicKey: hex(32),
    oldKey,
  }),
  z.strictObject({
    type: z.literal('rotate-bls'),
    name,
    blsPublicKey: hex(48),
    blsProofOfPossession: hex(96),
    oldKey,
  }),
  z.strictObject({ type: z.literal('rotate-libp2p'), name, peerId, oldKey }),
  z.strictObject({
    type: z.literal('addresses'),
    name,
    addresses: z.array(z.string().max(256)).max(MAX_ADDRESSES),
  }),
  z.strictObject({ type: z.literal('quorum'), quorum: z.number().int().min(1).max(1000) }),
])

export type MembershipChange = z.output<typeof changeSchema>
export type RotateChange = Extract<MembershipChange, { oldKey: 'held' | 'lost' }>

export const proposalSchema = z.strictObject({
  /** The genesis network.json's id: a proposal never crosses networks. */
  networkId: hex(32),
  /** The version the change applies to (0 = genesis) and its hash. */
  baseVersion: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  baseHash: hex(32),
  /** The member that proposed it; its signature must be among the signatures. */
  proposer: name,
  change: changeSchema,
})

export type MembershipProposal = z.output<typeof proposalSchema>

export const signedProposalSchema = z.strictObject({
  proposal: proposalSchema,
  /** Ed25519 signatures of the members of the base version, by member name. */
  signatures: z
    .array(z.strictObject({ signer: name, signature: hex(64) }))
    .max(1000)
    .superRefine((sigs, ctx) => {
      const seen = new Set<string>()
      sigs.forEach((s, i) => {
        if (seen.has(s.signer))
          ctx.addIssue({ code: 'custom', path: [i, 'signer'], message: `signs twice` })
        seen.add(s.signer)
      })
    }),
  /** A rotation with oldKey "held": the rotated key's own signature of the same message. */
  oldKeySignature: z
    .string()
    .regex(/^(?:[0-9a-f]{128}|[0-9a-f]{192})$/)
    .optional(),
})

export type SignedProposal = z.output<typeof signedProposalSchema>

/** One version of a network's membership: genesis is 0 and its hash is the network id. */
export interface MembershipVersion {
  networkId: string
  number: number
  /** hex: the network id for version 0, versionHash of the change's message after. */
  hash: string
  /** In network.json order (the checkpoint signer bitmap's order), addresses without /p2p/. */
  members: readonly Member[]
  /** Set by a quorum change; until then a majority of the members. */
  quorum?: number
  /** The genesis's ECVRF public key (the per-patient index), hex; no change replaces it yet. */
  vrfPublicKey: string
}

/** The smallest quorum allowed: a majority, so any two quorums share a member. */
export function majority(members: number): number {
  return Math.floor(members / 2) + 1
}

/** How many member signatures a change applied to `version` needs. */
export function quorumOf(version: MembershipVersion): number {
  return version.quorum ?? majority(version.members.length)
}

/** Parses a signed proposal (a proposal file's JSON); MESSAGE_INVALID naming the field. */
export function parseSignedProposal(value: unknown, source = 'proposal'): SignedProposal {
  const parsed = signedProposalSchema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const path = (issue?.path ?? []).map(String)
  if (issue?.code === 'unrecognized_keys') path.push(issue.keys[0] ?? '')
  const message =
    issue?.code === 'unrecognized_keys' ? 'is not a known field' : (issue?.message ?? 'invalid')
  const field = path.join('.')
  throw new EhrlogError('MESSAGE_INVALID', `${source}: ${field ? `${field}: ` : ''}${message}`, {
    details: { field, source },
    cause: parsed.error,
  })
}

/**
 * What members sign: the tag, 0x00, network id, base version, base hash, then the RFC 8785
 * bytes of `{change, proposer}`, so the proposer is signed too (layout.ts).
 */
export function proposalMessage(proposal: MembershipProposal): Uint8Array {
  return membershipChangeMessage(
    fromHex(proposal.networkId, 32) as Uint8Array,
    proposal.baseVersion,
    fromHex(proposal.baseHash, 32) as Uint8Array,
    new TextEncoder().encode(
      canonicalJson({ change: proposal.change, proposer: proposal.proposer }),
    ),
  )
}

/**
 * The hash naming the version a proposal makes: SHA-256(UTF8(TAGS.membershipVersion) || 0x00 ||
 * the proposal's message). The message holds the base hash, so the hash commits to the whole
 * chain back to genesis; it holds no signatures, so more signatures do not make a new version.
 */
export function versionHash(message: Uint8Array): string {
  const tag = new TextEncoder().encode(TAGS.membershipVersion)
  const input = new Uint8Array(tag.byteLength + 1 + message.byteLength)
  input.set(tag, 0)
  input.set(message, tag.byteLength + 1)
  return toHex(sha256(input))
}

/** Its short form for messages: "version 3 (1a2b3c4d…)". */
export function describeVersion(v: { number: number; hash: string }): string {
  return `version ${v.number} (${v.hash.slice(0, 8)}…)`
}

/** A change in words, for listings and notices: "add hospital-d", "quorum 3", … */
export function describeChange(change: MembershipChange): string {
  switch (change.type) {
    case 'add':
      return `add ${change.member.name}`
    case 'remove':
      return `remove ${change.name}`
    case 'addresses':
      return `addresses of ${change.name}: ${change.addresses.join(' ') || '(none)'}`
    case 'quorum':
      return `quorum ${change.quorum}`
    default:
      return `rotate ${change.name}'s ${change.type.slice(7)} key (old key ${change.oldKey})`
  }
}
