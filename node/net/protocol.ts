/**
 * Wire constants of the ehrlog network protocol: protocol ids, topic names and size limits.
 * docs/protocol.md describes the same values; change both together.
 */

/** Request/response protocol for state vector exchange and range pulls. */
export const SYNC_PROTOCOL = '/ehrlog/sync/1.0.0'

/** Request/response protocol that fetches single entries with inclusion proofs (repair). */
export const REPAIR_PROTOCOL = '/ehrlog/repair/1.0.0'

/** Request/response protocol for verified queries; open to clients (docs/query.md). */
export const QUERY_PROTOCOL = '/ehrlog/query/1.0.0'

/**
 * Request/response protocol for the chain of membership changes (a node that was down, a
 * joining one); open to clients like network.json itself.
 */
export const MEMBERSHIP_PROTOCOL = '/ehrlog/membership/1.0.0'

/** Gossip message layout version (first byte of every gossip message). */
export const GOSSIP_VERSION = 1

/** The gossipsub topic that carries new feed batches of one network. */
export function batchTopic(networkId: string): string {
  return `/ehrlog/1/${networkId}/batches`
}

/** A member-only topic for control messages (checkpoint rounds, evidence) of one network. */
export function controlTopic(networkId: string, name: string): string {
  return `/ehrlog/1/${networkId}/${name}`
}

const KiB = 1024
const MiB = 1024 * KiB

export const LIMITS = {
  /** A gossip message over this is rejected unread (and never produced). */
  maxGossipMessageBytes: MiB,
  /** The outbox packs several batches per message up to about this size. */
  targetGossipMessageBytes: 256 * KiB,
  /** Batch records in one gossip message. */
  maxRecordsPerMessage: 1024,
  /** One entry's canonical bytes. Entries are a few hundred bytes; this is a sanity cap. */
  maxEntryBytes: 64 * KiB,
  /** One sync frame (length prefix excluded). */
  maxSyncFrameBytes: MiB,
  /** A responder sends ENTRIES frames of about this size. */
  targetSyncFrameBytes: 256 * KiB,
  /** Entries a responder sends for one PULL (whole batches: one batch may exceed it). */
  maxEntriesPerPull: 2000,
  /**
   * PULLs a puller keeps outstanding per session (sent, their batches not all stored): the
   * next response is read while earlier ones are verified and written. Bounds its memory to
   * this many responses.
   */
  syncPullWindow: 3,
  /** Entries of one signed batch (node/store MAX_BATCH_ENTRIES): the most one response buffers. */
  maxBatchEntries: 10_000,
  /** One control message (a checkpoint proposal, cosignature or evidence). */
  maxControlMessageBytes: 256 * KiB,
  /** Origins in one state vector. */
  maxOrigins: 4096,
  /** Entries one repair request may ask for (the sum of its ranges). */
  maxRepairSeqs: 512,
  /** Seq ranges in one repair request. */
  maxRepairRanges: 64,
  /** One repair frame: an entry (at most maxEntryBytes) with its proof fits with room. */
  maxRepairFrameBytes: 128 * KiB,
  /** Hashes in one inclusion proof: enough for any tree of 2^53 leaves. */
  maxProofHashes: 64,
  /** One query request (JSON: session token and filter). */
  maxQueryRequestBytes: 64 * KiB,
  /** One query answer (JSON); nodes end answers at about 3 MiB of entries, with a cursor. */
  maxQueryAnswerBytes: 8 * MiB,
  /** One membership request (JSON: network id and a version number). */
  maxMembershipRequestBytes: KiB,
  /** One membership answer (JSON: signed changes; a change with 1000 signatures is ~150 KiB). */
  maxMembershipAnswerBytes: 4 * MiB,
  /** Signed changes in one membership answer; the asker asks again from where it got to. */
  maxMembershipChangesPerAnswer: 64,
} as const
