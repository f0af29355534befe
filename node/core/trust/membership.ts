import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { verifyBlsProofOfPossession, verifyBlsProofsOfPossession } from '../bls.ts'
import { EhrlogError } from '../errors.ts'
import { fromHex } from '../hex.ts'
import { type Member, publicIdentitySchema } from './member.ts'
import { type NetworkKeys, networkIdOf } from './network-keys.ts'

// Multiaddr protocol code of /p2p/<peer id>.
const P2P_CODE = 421

const networkSchema = z
  .strictObject({
    members: z.array(publicIdentitySchema).min(1, 'must list at least one member').max(1000),
    /** ECVRF public key of the per-patient index (docs/architecture.md, "Complete answers"). */
    vrfPublicKey: z.string().regex(/^[0-9a-f]{64}$/, 'is not 32 bytes of lowercase hex'),
  })
  .superRefine((net, ctx) => {
    for (const field of ['name', 'peerId', 'ed25519PublicKey'] as const) {
      const seen = new Set<string>()
      net.members.forEach((m, i) => {
        if (seen.has(m[field]))
          ctx.addIssue({
            code: 'custom',
            path: ['members', i, field],
            message: `duplicates ${m[field]}`,
          })
        seen.add(m[field])
      })
    }
    net.members.forEach((m, i) => {
      m.addresses.forEach((text, j) => {
        const path = ['members', i, 'addresses', j]
        try {
          const peer = multiaddr(text)
            .getComponents()
            .find((c) => c.code === P2P_CODE)?.value
          if (peer !== undefined && peer !== m.peerId) {
            ctx.addIssue({
              code: 'custom',
              path,
              message: `names peer ${peer}, not the member's ${m.peerId}`,
            })
          }
        } catch {
          ctx.addIssue({
            code: 'custom',
            path,
            message: 'is not a multiaddr (want e.g. /ip4/10.0.0.5/tcp/7400)',
          })
        }
      })
    })
  })

function configError(source: string, field: string, message: string, cause?: unknown): EhrlogError {
  return new EhrlogError('CONFIG_INVALID', `${source}: ${field ? `${field}: ` : ''}${message}`, {
    details: { field, source },
    cause,
  })
}

export interface MembershipOptions {
  /**
   * Says which (BLS key, proof of possession) pairs this reader verified before, authenticated
   * (node/identity/proven-keys.ts): those are not paired again. Anything else is verified.
   */
  proven?: (member: { blsPublicKey: string; blsProofOfPossession: string }) => boolean
}

/** Which version of a network's membership a Membership is (membership-chain.ts). */
export interface MembershipVersionRef {
  /** 0 for the genesis network.json. */
  number: number
  /** hex; the network id for version 0. */
  hash: string
  /** Checkpoint quorum; a majority of the members unless a quorum change set it. */
  quorum?: number
}

/**
 * The members of one network at one membership version: the genesis parsed from network.json
 * `{ "members": [identity, ...] }`, or a later version reached through the chain of changes
 * (Membership.ofVersion). The network id is the SHA-256 of the genesis file's RFC 8785
 * canonical JSON, so every node with the same file has the same id however it is formatted;
 * it names the gossip topic and sync checks it, so nodes with different networks never
 * exchange data. It stays the genesis's id for every later version.
 */
export class Membership {
  readonly networkId: string
  /** The version's number and hash (0 and the network id for the genesis). */
  readonly version: number
  readonly versionHash: string
  readonly quorum: number
  readonly members: readonly Member[]
  /** What answers, checkpoints and tree heads are verified against. */
  readonly keys: NetworkKeys
  private readonly byNameMap: Map<string, Member>
  private readonly byPeerMap: Map<string, Member>

  private constructor(
    networkId: string,
    members: readonly Member[],
    vrfPublicKey: Uint8Array,
    version: MembershipVersionRef = { number: 0, hash: networkId },
  ) {
    this.networkId = networkId
    this.version = version.number
    this.versionHash = version.hash
    this.quorum = version.quorum ?? Math.floor(members.length / 2) + 1
    this.members = members
    this.keys = {
      networkId,
      version: this.version,
      versionHash: this.versionHash,
      quorum: this.quorum,
      blsKeys: members.map((m) => fromHex(m.blsPublicKey, 48) as Uint8Array),
      ed25519Keys: new Map(members.map((m) => [m.name, fromHex(m.ed25519PublicKey, 32)!])),
      vrfPublicKey,
    }
    this.byNameMap = new Map(members.map((m) => [m.name, m]))
    this.byPeerMap = new Map(members.map((m) => [m.peerId, m]))
  }

  /**
   * A later version, as the chain of changes made it (membership-chain.ts verified every member
   * it adds, proofs of possession included): same network id, its own members and quorum.
   */
  static ofVersion(
    networkId: string,
    version: MembershipVersionRef,
    members: readonly Member[],
    vrfPublicKey: Uint8Array,
  ): Membership {
    return new Membership(networkId, members, vrfPublicKey, version)
  }

  /** Parses the text of network.json; throws CONFIG_INVALID naming the field. */
  static parse(text: string, source = 'network.json', options: MembershipOptions = {}): Membership {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (cause) {
      throw configError(source, '', 'is not JSON', cause)
    }
    return Membership.fromJson(value, source, options)
  }

  /**
   * Validates the already-decoded contents of network.json: shapes, unique names, PeerIds and
   * keys, addresses, and each BLS proof of possession (which stops rogue-key aggregates).
   */
  static fromJson(
    value: unknown,
    source = 'network.json',
    options: MembershipOptions = {},
  ): Membership {
    const parsed = networkSchema.safeParse(value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const path = (issue?.path ?? []).map(String)
      if (issue?.code === 'unrecognized_keys') path.push(issue.keys[0] ?? '')
      const message =
        issue?.code === 'unrecognized_keys' ? 'is not a known field' : (issue?.message ?? 'invalid')
      throw configError(source, path.join('.'), message, parsed.error)
    }
    const members = parsed.data.members
    // All proofs in one batch check; only if it fails, one by one to name the bad one.
    const unproven = members.filter((m) => !options.proven?.(m))
    const batched =
      unproven.length > 0 &&
      verifyBlsProofsOfPossession(
        unproven.map((m) => fromHex(m.blsPublicKey, 48) as Uint8Array),
        unproven.map((m) => fromHex(m.blsProofOfPossession, 96) as Uint8Array),
      )
    members.forEach((m, i) => {
      if (batched || options.proven?.(m)) return
      const key = fromHex(m.blsPublicKey, 48) as Uint8Array
      const proof = fromHex(m.blsProofOfPossession, 96) as Uint8Array
      if (!verifyBlsProofOfPossession(key, proof)) {
        throw configError(
          source,
          `members.${i}.blsProofOfPossession`,
          `does not prove possession of ${m.name}'s BLS key`,
        )
      }
    })
    let networkId: string
    try {
      networkId = networkIdOf(value)
    } catch (cause) {
      throw configError(source, '', 'holds a number JSON canonicalization refuses', cause)
    }
    // Dial addresses without /p2p/: the PeerId comes from the member entry.
    const normalized = members.map((m) => ({
      ...m,
      addresses: m.addresses.map((a) => multiaddr(a).decapsulateCode(P2P_CODE).toString()),
    }))
    return new Membership(networkId, normalized, fromHex(parsed.data.vrfPublicKey, 32)!)
  }

  byName(name: string): Member | undefined {
    return this.byNameMap.get(name)
  }

  byPeerId(peerId: PeerId | string): Member | undefined {
    return this.byPeerMap.get(typeof peerId === 'string' ? peerId : peerId.toString())
  }

  isMember(peerId: PeerId | string): boolean {
    return this.byPeerId(peerId) !== undefined
  }

  /** name -> Ed25519 tree-head key (hex), as node/node-store.ts takes it. */
  ed25519Keys(): Map<string, string> {
    return new Map(this.members.map((m) => [m.name, m.ed25519PublicKey]))
  }
}
