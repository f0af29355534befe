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
  checkpoint: 'ehrlog/checkpoint/v1',
  /** HKDF-SHA256 `info` strings: one key per purpose, all from the node's master secret. */
  hkdfValueEncryption: 'ehrlog/v1/store/value-encryption',
  hkdfBlindIndex: 'ehrlog/v1/store/blind-index',
  hkdfKeysFile: 'ehrlog/v1/keys-file',
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
 * UTF8(TAGS.checkpoint) || 0x00 || network id[32] || u64be(time ms) || checkpoint root[32]
 * where the checkpoint root is the RFC 9162 root over the feed cuts (checkpoint.ts).
 */
export function checkpointMessage(
  networkId: Uint8Array,
  timeMs: number,
  root: Uint8Array,
): Uint8Array {
  const tag = Buffer.from(TAGS.checkpoint, 'utf8')
  return new Uint8Array(Buffer.concat([tag, Buffer.from([0]), networkId, u64be(timeMs), root]))
}
