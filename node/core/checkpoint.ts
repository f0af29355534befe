import { aggregateBlsSignatures, verifyBlsAggregate } from './bls.ts'
import { canonicalJson } from './canonical-json.ts'
import { EhrlogError } from './errors.ts'
import { fromHex, toHex } from './hex.ts'
import { checkpointMessage, ORIGIN_PATTERN } from './layout.ts'
import { hashLeaf, MemoryTree } from './merkle/index.ts'

/**
 * One origin's feed at the cut: its tree size, RFC 9162 root, and the root of its per-patient
 * index at that size (docs/architecture.md, "Complete answers"), which every cosigner
 * recomputes from its own replica before signing.
 */
export interface FeedCut {
  origin: string
  treeSize: number
  root: Uint8Array
  indexRoot: Uint8Array
}

/** Which membership version a checkpoint is cosigned under: its number and hash. */
export interface MembershipRef {
  /** 0 for the genesis network.json. */
  version: number
  /** The version's hash (versionHash); for version 0 the network id. */
  hash: Uint8Array
}

/** The network's state at a cut. Feeds sorted by origin, one per member (size 0 allowed). */
export interface Checkpoint {
  /** SHA-256 of the genesis network.json's canonical form (networkIdOf, network-keys.ts). */
  networkId: Uint8Array
  /**
   * The membership version whose members cosign it: the signer bitmap indexes that version's
   * members, and a verifier takes that version's BLS keys and quorum.
   */
  membership: MembershipRef
  /** When it was proposed, ms since 1970: orders checkpoints of one network. */
  timeMs: number
  feeds: FeedCut[]
}

/** A checkpoint with its aggregate BLS cosignature: bit i of `signers` is member i of network.json. */
export interface CosignedCheckpoint {
  checkpoint: Checkpoint
  signers: Uint8Array
  signature: Uint8Array
}

const utf8 = new TextEncoder()

/** Leaf of the checkpoint tree: RFC 8785 bytes of {indexRoot (hex), origin, root (hex), treeSize}. */
export function feedCutBytes(cut: FeedCut): Uint8Array {
  return utf8.encode(
    canonicalJson({
      indexRoot: toHex(cut.indexRoot),
      origin: cut.origin,
      root: toHex(cut.root),
      treeSize: cut.treeSize,
    }),
  )
}

/** RFC 9162 root over the feed cuts, in origin order: one feed's cut can be proven by inclusion. */
export function checkpointRoot(checkpoint: Checkpoint): Uint8Array {
  return new MemoryTree(checkpoint.feeds.map((cut) => hashLeaf(feedCutBytes(cut)))).root()
}

/** What each cosigner signs (layout.ts). */
export function checkpointSigningMessage(checkpoint: Checkpoint): Uint8Array {
  return checkpointMessage(
    checkpoint.networkId,
    checkpoint.membership.version,
    checkpoint.membership.hash,
    checkpoint.timeMs,
    checkpointRoot(checkpoint),
  )
}

/** A stable id: hex SHA-256 leaf hash of the signed message. */
export function checkpointId(checkpoint: Checkpoint): string {
  return toHex(hashLeaf(checkpointSigningMessage(checkpoint)))
}

/** The smallest number of cosigners that makes a checkpoint cosigned: a majority by default. */
export function defaultQuorum(memberCount: number): number {
  return Math.floor(memberCount / 2) + 1
}

/** The signer bitmap's only length for `memberCount` members: one bit per member, rounded up to bytes. */
export function signersBitmapLength(memberCount: number): number {
  return Math.ceil(memberCount / 8)
}

/**
 * Reads a signer bitmap (bit i is bit i & 7, least significant first, of byte i >> 3; set
 * means member i of network.json cosigned). One checkpoint has one encoding, so a bitmap of
 * any other length than signersBitmapLength (trailing zero bytes included) or with a bit set
 * past the last member is refused with INVALID_PROOF (docs/format.md).
 */
export function signerIndexes(signers: Uint8Array, memberCount: number): number[] {
  const want = signersBitmapLength(memberCount)
  if (signers.byteLength !== want) {
    throw new EhrlogError(
      'INVALID_PROOF',
      `signer bitmap has ${signers.byteLength} bytes, want ${want} for ${memberCount} members`,
      { details: { signers: toHex(signers), memberCount } },
    )
  }
  const out: number[] = []
  for (let i = 0; i < signers.byteLength * 8; i++) {
    if ((signers[i >> 3]! >> (i & 7)) & 1) {
      if (i >= memberCount) {
        throw new EhrlogError(
          'INVALID_PROOF',
          `signer bit ${i} names no member (the network has ${memberCount})`,
          { details: { signer: i, signers: toHex(signers), memberCount } },
        )
      }
      out.push(i)
    }
  }
  return out
}

/** The bitmap of `indexes` (each < memberCount) in the one encoding signerIndexes accepts. */
export function signersBitmap(indexes: readonly number[], memberCount: number): Uint8Array {
  const bits = new Uint8Array(signersBitmapLength(memberCount))
  for (const i of indexes) bits[i >> 3]! |= 1 << (i & 7)
  return bits
}

/** Aggregates individual cosignatures (member index → 96-byte signature) into one. */
export function aggregateCosignatures(
  checkpoint: Checkpoint,
  signatures: ReadonlyMap<number, Uint8Array>,
  memberCount: number,
): CosignedCheckpoint {
  const indexes = [...signatures.keys()].sort((a, b) => a - b)
  return {
    checkpoint,
    signers: signersBitmap(indexes, memberCount),
    signature: aggregateBlsSignatures(indexes.map((i) => signatures.get(i)!)),
  }
}

/**
 * The keys a checkpoint is checked with: the network id, the membership version it must name,
 * that version's members' BLS keys in its order, and its quorum (a majority when absent).
 */
export interface CheckpointKeys {
  networkId: Uint8Array
  membership: MembershipRef
  blsKeys: readonly Uint8Array[]
  quorum?: number
}

/**
 * Checks a cosigned checkpoint with one aggregate verification: it names this network and the
 * membership version of `keys`, the signers are members of that version, at least its quorum
 * of them, and the aggregate signature is theirs over this checkpoint. `blsKeys` are the
 * version's members' public keys in its order (their proofs of possession checked when the
 * membership was built, which is what stops rogue-key aggregates). Returns the signer indexes;
 * throws INVALID_PROOF for a bitmap not in its one encoding, MEMBERSHIP_UNKNOWN for a
 * checkpoint of another membership version, INVALID_SIGNATURE naming what failed otherwise.
 */
export function verifyCosignedCheckpoint(
  cosigned: CosignedCheckpoint,
  keys: CheckpointKeys,
): number[] {
  const { checkpoint } = cosigned
  const { networkId, blsKeys } = keys
  const quorum = keys.quorum ?? defaultQuorum(blsKeys.length)
  if (toHex(checkpoint.networkId) !== toHex(networkId)) {
    throw new EhrlogError(
      'INVALID_SIGNATURE',
      `checkpoint is for network ${toHex(checkpoint.networkId).slice(0, 16)}…, not this one (${toHex(networkId).slice(0, 16)}…)`,
    )
  }
  const named = checkpoint.membership
  if (
    named.version !== keys.membership.version ||
    toHex(named.hash) !== toHex(keys.membership.hash)
  ) {
    throw new EhrlogError(
      'MEMBERSHIP_UNKNOWN',
      `checkpoint is cosigned under membership version ${named.version} (${toHex(named.hash).slice(0, 8)}…), checked against version ${keys.membership.version} (${toHex(keys.membership.hash).slice(0, 8)}…)`,
      { details: { version: named.version, hash: toHex(named.hash) } },
    )
  }
  const signers = signerIndexes(cosigned.signers, blsKeys.length)
  if (signers.length < quorum) {
    throw new EhrlogError(
      'INVALID_SIGNATURE',
      `checkpoint has ${signers.length} cosigners, the quorum is ${quorum} of ${blsKeys.length}`,
      {
        details: { signers: signers.length, quorum },
      },
    )
  }
  const message = checkpointSigningMessage(checkpoint)
  if (
    !verifyBlsAggregate(
      signers.map((i) => blsKeys[i]!),
      message,
      cosigned.signature,
    )
  ) {
    throw new EhrlogError(
      'INVALID_SIGNATURE',
      `the aggregate signature of checkpoint ${checkpointId(checkpoint).slice(0, 16)}… does not verify for signers ${signers.join(', ')}`,
      {
        details: { signers },
      },
    )
  }
  return signers
}

/** JSON form (hex bytes) for storage, gossip and HTTP. */
export interface CosignedCheckpointJson {
  checkpoint: {
    networkId: string
    membership: { version: number; hash: string }
    timeMs: number
    feeds: Array<{ origin: string; treeSize: number; root: string; indexRoot: string }>
  }
  signers: string
  signature: string
}

export function cosignedToJson(c: CosignedCheckpoint): CosignedCheckpointJson {
  return {
    checkpoint: {
      networkId: toHex(c.checkpoint.networkId),
      membership: {
        version: c.checkpoint.membership.version,
        hash: toHex(c.checkpoint.membership.hash),
      },
      timeMs: c.checkpoint.timeMs,
      feeds: c.checkpoint.feeds.map((f) => ({
        origin: f.origin,
        treeSize: f.treeSize,
        root: toHex(f.root),
        indexRoot: toHex(f.indexRoot),
      })),
    },
    signers: toHex(c.signers),
    signature: toHex(c.signature),
  }
}

function bad(message: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `checkpoint: ${message}`)
}

/** Parses untrusted JSON into a checkpoint (structure only; verify it after). */
export function checkpointFromJson(value: unknown): Checkpoint {
  const c = value as CosignedCheckpointJson['checkpoint']
  if (typeof c !== 'object' || c === null) throw bad('not an object')
  const networkId = typeof c.networkId === 'string' ? fromHex(c.networkId, 32) : undefined
  if (!networkId) throw bad('networkId is not 32 bytes of hex')
  const m = c.membership
  if (typeof m !== 'object' || m === null) throw bad('membership is not an object')
  if (!Number.isSafeInteger(m.version) || m.version < 0)
    throw bad('membership.version is not a version number')
  const membershipHash = typeof m.hash === 'string' ? fromHex(m.hash, 32) : undefined
  if (!membershipHash) throw bad('membership.hash is not 32 bytes of hex')
  if (!Number.isSafeInteger(c.timeMs) || c.timeMs < 0) throw bad('timeMs is not a time')
  if (!Array.isArray(c.feeds) || c.feeds.length > 1000)
    throw bad('feeds is not a list of at most 1000')
  const feeds = c.feeds.map((f, i) => {
    const root = typeof f?.root === 'string' ? fromHex(f.root, 32) : undefined
    if (typeof f?.origin !== 'string' || !ORIGIN_PATTERN.test(f.origin))
      throw bad(`feeds[${i}].origin is not a node name`)
    if (!Number.isSafeInteger(f.treeSize) || f.treeSize < 0)
      throw bad(`feeds[${i}].treeSize is not a size`)
    if (!root) throw bad(`feeds[${i}].root is not 32 bytes of hex`)
    const indexRoot = typeof f?.indexRoot === 'string' ? fromHex(f.indexRoot, 32) : undefined
    if (!indexRoot) throw bad(`feeds[${i}].indexRoot is not 32 bytes of hex`)
    return { origin: f.origin, treeSize: f.treeSize, root, indexRoot }
  })
  for (let i = 1; i < feeds.length; i++) {
    if (feeds[i - 1]!.origin >= feeds[i]!.origin)
      throw bad('feeds are not sorted by origin without repeats')
  }
  return {
    networkId,
    membership: { version: m.version, hash: membershipHash },
    timeMs: c.timeMs,
    feeds,
  }
}

export function cosignedFromJson(value: unknown): CosignedCheckpoint {
  const v = value as CosignedCheckpointJson
  if (typeof v !== 'object' || v === null) throw bad('not an object')
  const signers = typeof v.signers === 'string' ? fromHex(v.signers) : undefined
  const signature = typeof v.signature === 'string' ? fromHex(v.signature, 96) : undefined
  if (!signers || signers.byteLength > 125) throw bad('signers is not a hex bitmap')
  if (!signature) throw bad('signature is not 96 bytes of hex')
  return { checkpoint: checkpointFromJson(v.checkpoint), signers, signature }
}

/** The cut of one origin, if the checkpoint has it. */
export function feedCutOf(checkpoint: Checkpoint, origin: string): FeedCut | undefined {
  return checkpoint.feeds.find((f) => f.origin === origin)
}
