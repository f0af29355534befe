import type { KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { blsVerify } from '../bls.ts'
import { EhrlogError } from '../errors.ts'
import { fromHex, toHex } from '../hex.ts'
import { signEd25519, verifyEd25519 } from '../tree-head.ts'
import { Membership, type MembershipOptions } from './membership.ts'
import { applyChange } from './membership-chain-apply.ts'
import {
  describeVersion,
  type MembershipChange,
  type MembershipProposal,
  type MembershipVersion,
  parseSignedProposal,
  proposalMessage,
  quorumOf,
  type RotateChange,
  type SignedProposal,
  versionHash,
} from './membership-chain-types.ts'
import type { NetworkKeys } from './network-keys.ts'

/*
 * Membership as a log (docs/architecture.md, "A network that can change"): genesis is
 * network.json, and each later version is made by one change that a quorum of the members of
 * the version before signed. Pure: the same checks for nodes, the CLI and the browser.
 */

/** Version 0: network.json as parsed today; its hash is the network id. */
export function genesisVersion(
  networkJson: unknown,
  source = 'network.json',
  options: MembershipOptions = {},
): { genesis: Membership; version: MembershipVersion } {
  const genesis = Membership.fromJson(networkJson, source, options)
  return {
    genesis,
    version: {
      networkId: genesis.networkId,
      number: 0,
      hash: genesis.networkId,
      members: genesis.members,
      vrfPublicKey: toHex(genesis.keys.vrfPublicKey),
    },
  }
}

/**
 * The keys a checkpoint cosigned under `version` is verified with: the genesis network id
 * (it never changes), the version's BLS keys in its member order (the signer bitmap's), each
 * member's Ed25519 key by name, and the network's VRF key.
 */
export function networkKeysOf(version: MembershipVersion): NetworkKeys {
  return {
    networkId: version.networkId,
    version: version.number,
    versionHash: version.hash,
    quorum: quorumOf(version),
    blsKeys: version.members.map((m) => fromHex(m.blsPublicKey, 48) as Uint8Array),
    ed25519Keys: new Map(version.members.map((m) => [m.name, fromHex(m.ed25519PublicKey, 32)!])),
    vrfPublicKey: fromHex(version.vrfPublicKey, 32) as Uint8Array,
  }
}

/** A proposal of `change` by `proposer` on `version`, not yet signed. */
export function proposeChange(
  version: MembershipVersion,
  proposer: string,
  change: MembershipChange,
): MembershipProposal {
  return {
    networkId: version.networkId,
    baseVersion: version.number,
    baseHash: version.hash,
    proposer,
    change,
  }
}

/** Adds (or replaces) `signer`'s Ed25519 signature; signatures stay sorted by signer. */
export function addSignature(
  signed: SignedProposal,
  signer: string,
  key: KeyObject,
): SignedProposal {
  const signature = toHex(signEd25519(key, proposalMessage(signed.proposal)))
  const signatures = [
    ...signed.signatures.filter((s) => s.signer !== signer),
    { signer, signature },
  ]
  signatures.sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0))
  return { ...signed, signatures }
}

/**
 * Checks one signed proposal against the version it claims to apply to and returns the
 * version it makes. Refused, and nothing changes, when:
 * - it is for another network or another chain at that number (CHAIN_BROKEN),
 * - its base is an earlier version (CHANGE_REPLAYED) or a later one (CHANGE_OUT_OF_ORDER),
 * - a signer is not a member of the base version (SIGNER_UNKNOWN),
 * - a signature, or a held rotated key's signature, does not verify (INVALID_SIGNATURE),
 * - the proposer did not sign, or fewer than the quorum did (QUORUM_NOT_MET),
 * - the change itself is wrong (applyChange: MESSAGE_INVALID, MEMBER_CONFLICT, INVALID_PROOF).
 */
export function applyProposal(version: MembershipVersion, value: unknown): MembershipVersion {
  const signed = parseSignedProposal(value)
  const { proposal } = signed
  const where = describeVersion(version)
  if (proposal.networkId !== version.networkId)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `the proposal is for network ${proposal.networkId.slice(0, 16)}…, not ${version.networkId.slice(0, 16)}…`,
      { details: { field: 'proposal.networkId', version: version.number } },
    )
  if (proposal.baseVersion < version.number)
    throw new EhrlogError(
      'CHANGE_REPLAYED',
      `the proposal applies to version ${proposal.baseVersion}, which ${where} already follows: a change is applied once`,
      {
        details: {
          field: 'proposal.baseVersion',
          version: version.number,
          base: proposal.baseVersion,
        },
      },
    )
  if (proposal.baseVersion > version.number)
    throw new EhrlogError(
      'CHANGE_OUT_OF_ORDER',
      `the proposal applies to version ${proposal.baseVersion}, but the chain is at ${where}: the changes in between are missing`,
      {
        details: {
          field: 'proposal.baseVersion',
          version: version.number,
          base: proposal.baseVersion,
        },
      },
    )
  if (proposal.baseHash !== version.hash)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `the proposal applies to a version ${proposal.baseVersion} with hash ${proposal.baseHash.slice(0, 8)}…, not ${where}: it belongs to another chain`,
      { details: { field: 'proposal.baseHash', version: version.number } },
    )
  if (!version.members.some((m) => m.name === proposal.proposer))
    throw new EhrlogError(
      'SIGNER_UNKNOWN',
      `the proposer ${proposal.proposer} is not a member of ${where}; only members propose changes`,
      {
        details: { field: 'proposal.proposer', signer: proposal.proposer, version: version.number },
      },
    )
  const message = proposalMessage(proposal)
  const signers = checkSignatures(version, signed, message)
  if (!signers.includes(proposal.proposer))
    throw new EhrlogError(
      'QUORUM_NOT_MET',
      `the proposer ${proposal.proposer} did not sign its proposal on ${where}`,
      { details: { field: 'signatures', version: version.number, proposer: proposal.proposer } },
    )
  const quorum = quorumOf(version)
  if (signers.length < quorum)
    throw new EhrlogError(
      'QUORUM_NOT_MET',
      `${signers.length} of ${version.members.length} members signed (${signers.join(', ')}); a change to ${where} needs ${quorum}`,
      { details: { field: 'signatures', version: version.number, signers, quorum } },
    )
  checkOldKey(version, signed, message)
  const applied = applyChange(version, proposal.change)
  return {
    networkId: version.networkId,
    number: version.number + 1,
    hash: versionHash(message),
    vrfPublicKey: version.vrfPublicKey,
    ...applied,
  }
}

/** The names whose signatures verify; throws at the first that is not a member's or not valid. */
function checkSignatures(
  version: MembershipVersion,
  signed: SignedProposal,
  message: Uint8Array,
): string[] {
  return signed.signatures.map(({ signer, signature }, i) => {
    const member = version.members.find((m) => m.name === signer)
    if (!member)
      throw new EhrlogError(
        'SIGNER_UNKNOWN',
        `signatures.${i}: ${signer} is not a member of ${describeVersion(version)}; only its members sign changes to it`,
        { details: { field: `signatures.${i}.signer`, signer, version: version.number } },
      )
    const key = fromHex(member.ed25519PublicKey, 32) as Uint8Array
    if (!verifyEd25519(key, message, fromHex(signature, 64) as Uint8Array))
      throw new EhrlogError(
        'INVALID_SIGNATURE',
        `signatures.${i}: ${signer}'s signature does not verify for this proposal on ${describeVersion(version)}`,
        { details: { field: `signatures.${i}.signature`, signer, version: version.number } },
      )
    return signer
  })
}

/**
 * A rotation whose old key is "held" carries that key's signature of the same message, so a
 * quorum cannot quietly take a key its holder still has; "lost" carries none (the quorum alone
 * decides, and docs/architecture.md says what to watch for).
 */
function checkOldKey(
  version: MembershipVersion,
  signed: SignedProposal,
  message: Uint8Array,
): void {
  const { change } = signed.proposal
  const rotation = 'oldKey' in change ? (change as RotateChange) : undefined
  if (!rotation || rotation.oldKey === 'lost') {
    if (signed.oldKeySignature !== undefined)
      throw new EhrlogError(
        'MESSAGE_INVALID',
        `oldKeySignature: only a rotation whose old key is "held" carries one`,
        { details: { field: 'oldKeySignature', version: version.number } },
      )
    return
  }
  const member = version.members.find((m) => m.name === rotation.name)
  if (!member) return // applyChange names the unknown member
  const signature = signed.oldKeySignature
  const refuse = (why: string, reason: string) =>
    new EhrlogError(
      'INVALID_SIGNATURE',
      `oldKeySignature: ${why} (${rotation.type} of ${rotation.name}, old key "held"); if the key is lost, propose with old key "lost"`,
      {
        details: {
          field: 'oldKeySignature',
          member: rotation.name,
          version: version.number,
          reason,
        },
      },
    )
  if (signature === undefined)
    throw refuse(`missing: ${rotation.name}'s old key must sign its own rotation`, OLD_KEY_MISSING)
  if (!oldKeySignatureValid(member, rotation.type, message, fromHex(signature) as Uint8Array))
    throw refuse(`does not verify under ${rotation.name}'s current key`, 'old-key-invalid')
}

/** `details.reason` of a rotation still waiting for its old key's signature (followChain: pending). */
export const OLD_KEY_MISSING = 'old-key-missing'

/** Whether `signature` is the member's current key of `type`'s signature of `message`. */
export function oldKeySignatureValid(
  member: { ed25519PublicKey: string; blsPublicKey: string; peerId: string },
  type: RotateChange['type'],
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  switch (type) {
    case 'rotate-ed25519':
      return verifyEd25519(fromHex(member.ed25519PublicKey, 32) as Uint8Array, message, signature)
    case 'rotate-bls':
      return blsVerify(fromHex(member.blsPublicKey, 48) as Uint8Array, message, signature)
    case 'rotate-libp2p': {
      // An Ed25519 PeerId holds its key; a libp2p Ed25519 signature is plain RFC 8032.
      const key = peerIdFromString(member.peerId).publicKey
      return key?.type === 'Ed25519' && verifyEd25519(key.raw, message, signature)
    }
  }
}

export interface VerifiedChain {
  genesis: Membership
  /** Every version from genesis (0) to the current one, in order. */
  versions: MembershipVersion[]
  current: MembershipVersion
}

/**
 * What a client does with a pinned genesis: checks every change in order, each against the
 * version before it, and returns the versions. The first refused change throws its code, with
 * `details.index` naming it.
 */
export function verifyChain(
  networkJson: unknown,
  changes: readonly unknown[],
  options: MembershipOptions = {},
): VerifiedChain {
  const { genesis, version } = genesisVersion(networkJson, 'network.json', options)
  const versions = [version]
  changes.forEach((change, index) => {
    try {
      versions.push(applyProposal(versions.at(-1)!, change))
    } catch (err) {
      if (err instanceof EhrlogError) {
        throw new EhrlogError(err.code, `change ${index}: ${err.message}`, {
          details: { ...err.details, index },
          cause: err,
        })
      }
      throw err
    }
  })
  return { genesis, versions, current: versions.at(-1)! }
}

/** Two changes a quorum accepted on the same version: the chain forked there. */
export interface MembershipEquivocation {
  networkId: string
  baseVersion: number
  baseHash: string
  first: SignedProposal
  second: SignedProposal
  /** Members that signed both: with a quorum above half, at least one. */
  signedBoth: string[]
}

/**
 * EQUIVOCATION with both signed proposals as evidence when two different changes each valid
 * on `version` (a quorum signed each) exist; nothing when they are the same change, or when
 * either does not apply to `version`.
 */
export function checkEquivocation(
  version: MembershipVersion,
  first: unknown,
  second: unknown,
): void {
  let a: SignedProposal
  let b: SignedProposal
  try {
    applyProposal(version, first)
    applyProposal(version, second)
    a = parseSignedProposal(first)
    b = parseSignedProposal(second)
  } catch {
    return
  }
  const ma = toHex(proposalMessage(a.proposal))
  const mb = toHex(proposalMessage(b.proposal))
  if (ma === mb) return
  const signersOf = (s: SignedProposal) => new Set(s.signatures.map((x) => x.signer))
  const inB = signersOf(b)
  const evidence: MembershipEquivocation = {
    networkId: version.networkId,
    baseVersion: version.number,
    baseHash: version.hash,
    first: a,
    second: b,
    signedBoth: [...signersOf(a)].filter((n) => inB.has(n)).sort(),
  }
  throw new EhrlogError(
    'EQUIVOCATION',
    `two different changes were each signed by a quorum on ${describeVersion(version)}: the membership forked; ${evidence.signedBoth.join(', ') || 'nobody'} signed both`,
    { details: { ...evidence } },
  )
}
