/**
 * The membership chain, followed from docs/format.md ("Membership changes", and "Following
 * the chain to a checkpoint's version") alone, for the outside checkpoint verifier: from the
 * genesis network.json through signed changes, each checked against the version before it,
 * to the members and quorum of each version. Imports nothing from ehrlog, only node:crypto;
 * the BLS checks (proofs of possession, a held BLS key's signature) are the caller's.
 */
import { createHash, createPublicKey, verify } from 'node:crypto'

/** One membership version as this follower keeps it. */
export interface OutsideVersion {
  number: number
  /** network id for version 0; SHA-256("ehrlog/membership-version/v1" ‖ 0x00 ‖ message) after. */
  hash: Buffer
  members: Array<Record<string, unknown>>
  quorum: number
}

/** What the follower needs from the caller's BLS (checkpoint signature DST and PoP DST). */
export interface OutsideBls {
  /** The member's proof of possession verifies (docs/format.md, "BLS keys …"). */
  popValid(publicKeyHex: string, popHex: string): boolean
  /** `signatureHex` is the key's signature of `message` under the checkpoint signature DST. */
  signatureValid(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean
}

/** Thrown for a change that does not verify: `code` as docs/format.md names it. */
export class ChainRefused extends Error {
  constructor(
    readonly code: string,
    readonly change: number,
    message: string,
  ) {
    super(`${code}: change ${change}: ${message}`)
  }
}

/** RFC 8785 for JSON of strings, safe integers, booleans, null, arrays and objects. */
export function jcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`)
      .join(',')}}`
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new ChainRefused('MESSAGE_INVALID', -1, 'a non-integer number')
  return JSON.stringify(value)
}

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}
const u64be = (n: number) => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex')
function ed25519Valid(keyHex: unknown, message: Uint8Array, sigHex: unknown): boolean {
  if (typeof keyHex !== 'string' || typeof sigHex !== 'string') return false
  if (!/^[0-9a-f]{64}$/.test(keyHex) || !/^[0-9a-f]{128}$/.test(sigHex)) return false
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI, Buffer.from(keyHex, 'hex')]),
    format: 'der',
    type: 'spki',
  })
  return verify(null, message, key, Buffer.from(sigHex, 'hex'))
}

const majority = (n: number) => Math.floor(n / 2) + 1

/**
 * Every version from genesis (0) through `changes`, each change checked as docs/format.md's
 * "Accepting a change" says, for the checks a checkpoint verifier relies on: the chain's
 * position (steps 2–3), the signers and their Ed25519 signatures (4), the proposer and the
 * quorum (5), a held rotated key's signature (6), and the change applied with its new keys'
 * proofs of possession and no name or key used twice (7–8).
 */
export function followMembership(
  network: { members: Array<Record<string, unknown>> },
  networkId: Buffer,
  changes: readonly unknown[],
  bls: OutsideBls,
): OutsideVersion[] {
  const versions: OutsideVersion[] = [
    {
      number: 0,
      hash: networkId,
      members: network.members,
      quorum: majority(network.members.length),
    },
  ]
  for (const [i, value] of changes.entries()) {
    const v = versions[i]!
    const refuse = (code: string, message: string): never => {
      throw new ChainRefused(code, i + 1, message)
    }
    const signed = value as {
      proposal?: Record<string, unknown>
      signatures?: Array<{ signer?: unknown; signature?: unknown }>
      oldKeySignature?: unknown
    }
    const p = signed?.proposal as Record<string, unknown>
    const change = p?.change as Record<string, unknown>
    if (!p || !change || !Array.isArray(signed.signatures))
      refuse('MESSAGE_INVALID', 'not a signed proposal')
    if (p.networkId !== networkId.toString('hex')) refuse('CHAIN_BROKEN', 'another network')
    if (typeof p.baseVersion !== 'number' || p.baseVersion < v.number)
      refuse('CHANGE_REPLAYED', `applies to version ${String(p.baseVersion)}`)
    if ((p.baseVersion as number) > v.number)
      refuse('CHANGE_OUT_OF_ORDER', `applies to version ${String(p.baseVersion)}, not ${v.number}`)
    if (p.baseHash !== v.hash.toString('hex')) refuse('CHAIN_BROKEN', 'another chain')
    const message = Buffer.concat([
      Buffer.from('ehrlog/membership-change/v1'),
      Buffer.of(0),
      networkId,
      u64be(v.number),
      v.hash,
      Buffer.from(jcs({ change, proposer: p.proposer })),
    ])
    const byName = (name: unknown) => v.members.find((m) => m.name === name)
    if (!byName(p.proposer)) refuse('SIGNER_UNKNOWN', `proposer ${String(p.proposer)}`)
    const signers = new Set<unknown>()
    for (const s of signed.signatures!) {
      const m = byName(s.signer)
      if (!m) refuse('SIGNER_UNKNOWN', `signer ${String(s.signer)}`)
      if (signers.has(s.signer)) refuse('MESSAGE_INVALID', `${String(s.signer)} signs twice`)
      if (!ed25519Valid(m!.ed25519PublicKey, message, s.signature))
        refuse('INVALID_SIGNATURE', `${String(s.signer)}'s signature`)
      signers.add(s.signer)
    }
    if (!signers.has(p.proposer)) refuse('QUORUM_NOT_MET', 'the proposer did not sign')
    if (signers.size < v.quorum) refuse('QUORUM_NOT_MET', `${signers.size} of ${v.quorum}`)

    const at = v.members.findIndex((m) => m.name === change.name)
    const held = change.oldKey === 'held'
    if (!held && signed.oldKeySignature !== undefined)
      refuse('MESSAGE_INVALID', 'an oldKeySignature without a held rotation')
    const old = v.members[at]
    if (held && old) {
      const sig = signed.oldKeySignature
      const ok =
        change.type === 'rotate-ed25519'
          ? ed25519Valid(old.ed25519PublicKey, message, sig)
          : change.type === 'rotate-bls'
            ? typeof sig === 'string' && bls.signatureValid(String(old.blsPublicKey), message, sig)
            : refuse('MESSAGE_INVALID', `${String(change.type)} with a held key: not followed here`)
      if (!ok) refuse('INVALID_SIGNATURE', 'oldKeySignature')
    }
    let members = v.members.map((m) => ({ ...m }))
    let quorum = v.quorum
    const used = (field: string, value: unknown) => members.some((m) => m[field] === value)
    const checkPop = (key: unknown, pop: unknown) => {
      if (typeof key !== 'string' || typeof pop !== 'string' || !bls.popValid(key, pop))
        refuse('INVALID_PROOF', 'proof of possession')
    }
    if (change.type !== 'add' && change.type !== 'quorum' && at < 0)
      refuse('MESSAGE_INVALID', `no member ${String(change.name)}`)
    switch (change.type) {
      case 'add': {
        const m = change.member as Record<string, unknown>
        for (const f of ['name', 'ed25519PublicKey', 'blsPublicKey', 'peerId'])
          if (used(f, m?.[f])) refuse('MEMBER_CONFLICT', `${f} already a member's`)
        checkPop(m.blsPublicKey, m.blsProofOfPossession)
        members.push({ ...m })
        break
      }
      case 'remove':
        members = members.filter((m) => m.name !== change.name)
        if (members.length === 0) refuse('MESSAGE_INVALID', 'no member would remain')
        break
      case 'rotate-ed25519':
        if (used('ed25519PublicKey', change.ed25519PublicKey)) refuse('MEMBER_CONFLICT', 'key')
        members[at] = { ...members[at], ed25519PublicKey: change.ed25519PublicKey }
        break
      case 'rotate-bls':
        if (used('blsPublicKey', change.blsPublicKey)) refuse('MEMBER_CONFLICT', 'key')
        checkPop(change.blsPublicKey, change.blsProofOfPossession)
        members[at] = {
          ...members[at],
          blsPublicKey: change.blsPublicKey,
          blsProofOfPossession: change.blsProofOfPossession,
        }
        break
      case 'rotate-libp2p':
        if (used('peerId', change.peerId)) refuse('MEMBER_CONFLICT', 'PeerId')
        members[at] = { ...members[at], peerId: change.peerId }
        break
      case 'addresses':
        members[at] = { ...members[at], addresses: change.addresses }
        break
      case 'quorum':
        quorum = change.quorum as number
        break
      default:
        refuse('MESSAGE_INVALID', `unknown change ${String(change.type)}`)
    }
    // Until a quorum change sets one, the quorum is the majority of the members of the time.
    const set = changes
      .slice(0, i + 1)
      .some(
        (c) => (c as { proposal: { change: { type: string } } }).proposal.change.type === 'quorum',
      )
    if (!set) quorum = majority(members.length)
    if (
      !Number.isSafeInteger(quorum) ||
      quorum < majority(members.length) ||
      quorum > members.length
    )
      refuse('MESSAGE_INVALID', `quorum ${quorum} for ${members.length} members`)
    versions.push({
      number: v.number + 1,
      hash: sha256(Buffer.from('ehrlog/membership-version/v1'), Buffer.of(0), message),
      members,
      quorum,
    })
  }
  return versions
}
