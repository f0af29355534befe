/**
 * Every byte layout that is hashed or signed, and every domain-separation tag, lives here
 * (docs/format.md describes the same bytes for re-implementers). Changing anything in this
 * file changes the format: bump the version in the tag.
 */

/** Entry envelope version written into every entry (`v`). */
export const ENTRY_VERSION = 1

/** `prev` of the first entry of a feed: 32 zero bytes, in hex. */
export const GENESIS_PREV = '0'.repeat(64)

/** Origin names: a DNS label, so they can also appear in usernames (alice@hospital-a). */
export const ORIGIN_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

export const TAGS = {
  treeHead: 'ehrlog/tree-head/v1',
  checkpoint: 'ehrlog/checkpoint/v3',
  /** What a user signs to log in, and what a node signs on a session token. */
  login: 'ehrlog/login/v1',
  session: 'ehrlog/session/v1',
  /** Mixed into the password before scrypt: a login key is useless for anything else. */
  passwordKey: 'ehrlog/password-key/v1',
  /** What an account signs, with its login key, over an export bundle's manifest. */
  bundle: 'ehrlog/bundle/v1',
  /** HKDF-SHA256 `info` strings: one key per purpose, all from the node's master secret. */
  hkdfValueEncryption: 'ehrlog/v1/store/value-encryption',
  hkdfBlindIndex: 'ehrlog/v1/store/blind-index',
  hkdfKeysFile: 'ehrlog/v1/keys-file',
  hkdfProvenKeys: 'ehrlog/v1/proven-bls-keys',
  /**
   * The per-patient index (docs/format.md, "The per-patient index"): the VRF input for a
   * patient id, the tree key and leaf salt derived from the VRF output per origin, the chain
   * over a patient's seqs at one origin, and the sparse Merkle tree's value, leaf and node hashes.
   */
  indexVrfInput: 'ehrlog/index-vrf-input/v1',
  indexKey: 'ehrlog/index-key/v1',
  indexSalt: 'ehrlog/index-salt/v1',
  indexChain: 'ehrlog/index-chain/v1',
  indexValue: 'ehrlog/index-value/v1',
  indexLeaf: 'ehrlog/index-leaf/v1',
  indexNode: 'ehrlog/index-node/v1',
  /**
   * Membership changes (docs/format.md, "Membership changes"): the message members sign for a
   * proposed change, and the hash that names the version a change makes.
   */
  membershipChange: 'ehrlog/membership-change/v1',
  membershipVersion: 'ehrlog/membership-version/v1',
  /** BLS12-381 ciphersuites (draft-irtf-cfrg-bls-signature-05, proof-of-possession scheme, min-pk). */
  blsSignatureDst: 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_',
  blsPopDst: 'BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_',
} as const

function u64be(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

/**
 * The message an origin signs with Ed25519 for its feed's tree head:
 * UTF8(TAGS.treeHead) || 0x00 || u8(len(origin)) || UTF8(origin) || u64be(treeSize) || root[32]
 */
export function treeHeadMessage(origin: string, treeSize: number, root: Uint8Array): Uint8Array {
  const tag = Buffer.from(TAGS.treeHead, 'utf8')
  const name = Buffer.from(origin, 'utf8')
  return new Uint8Array(
    Buffer.concat([tag, Buffer.from([0, name.length]), name, u64be(treeSize), root]),
  )
}

/**
 * The message every node signs with BLS for a checkpoint:
 * UTF8(TAGS.checkpoint) || 0x00 || network id[32] || u64be(membership version) ||
 * membership version hash[32] || u64be(time ms) || checkpoint root[32]
 * where the checkpoint root is the RFC 9162 root over the feed cuts (checkpoint.ts) and the
 * membership version is the one whose members cosign (version 0's hash is the network id).
 */
export function checkpointMessage(
  networkId: Uint8Array,
  membershipVersion: number,
  membershipHash: Uint8Array,
  timeMs: number,
  root: Uint8Array,
): Uint8Array {
  const tag = Buffer.from(TAGS.checkpoint, 'utf8')
  return new Uint8Array(
    Buffer.concat([
      tag,
      Buffer.from([0]),
      networkId,
      u64be(membershipVersion),
      membershipHash,
      u64be(timeMs),
      root,
    ]),
  )
}

/**
 * What a user's device signs to prove it knows the password-derived key (a Schnorr proof of
 * knowledge via Ed25519): UTF8(TAGS.login) || 0x00 || u8 len || node || u8 len || username ||
 * nonce[32] || u64be(expiry ms). The node name and nonce bind it to one challenge of one node.
 */
export function loginMessage(
  node: string,
  username: string,
  nonce: Uint8Array,
  expiresMs: number,
): Uint8Array {
  const tag = Buffer.from(TAGS.login, 'utf8')
  const n = Buffer.from(node, 'utf8')
  const u = Buffer.from(username, 'utf8')
  return new Uint8Array(
    Buffer.concat([
      tag,
      Buffer.from([0, n.length]),
      n,
      Buffer.from([u.length]),
      u,
      nonce,
      u64be(expiresMs),
    ]),
  )
}

/** What a node signs for a session token: UTF8(TAGS.session) || 0x00 || the claims' RFC 8785 bytes. */
export function sessionMessage(claimsJson: Uint8Array): Uint8Array {
  return new Uint8Array(
    Buffer.concat([Buffer.from(TAGS.session, 'utf8'), Buffer.from([0]), claimsJson]),
  )
}

/**
 * What members sign (Ed25519) for a proposed membership change, and what a rotated key signs
 * when its holder still has it: UTF8(TAGS.membershipChange) || 0x00 || network id[32] ||
 * u64be(base version number) || base version hash[32] || the RFC 8785 bytes of
 * `{"change": …, "proposer": …}` (membership-chain-types.ts).
 */
export function membershipChangeMessage(
  networkId: Uint8Array,
  baseVersion: number,
  baseHash: Uint8Array,
  bodyJson: Uint8Array,
): Uint8Array {
  const tag = Buffer.from(TAGS.membershipChange, 'utf8')
  return new Uint8Array(
    Buffer.concat([tag, Buffer.from([0]), networkId, u64be(baseVersion), baseHash, bodyJson]),
  )
}
