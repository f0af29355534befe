import { EhrlogError } from '../../core/errors.ts'
import { HASH_SIZE } from '../../core/merkle/hash.ts'

/**
 * Plaintext layouts of stored values (before ValueCipher seals them); docs/storage.md.
 *
 * Entry record: u8 k || k × 32-byte hashes || entry bytes. The hashes are the Merkle tree
 * nodes of levels 1..k that this leaf completes (RFC 9162 tree, docs/merkle.md), so the
 * tree is stored at one write per entry and any node is found at a computable leaf.
 *
 * Head record: root[32] || Ed25519 signature[64].
 */
export interface EntryRecord {
  /** Tree nodes of levels 1..k finished at this leaf, in level order. */
  nodes: Uint8Array[]
  entryBytes: Uint8Array
}

export function encodeEntryRecord(nodes: readonly Uint8Array[], entryBytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + nodes.length * HASH_SIZE + entryBytes.byteLength)
  out[0] = nodes.length
  let at = 1
  for (const node of nodes) {
    out.set(node, at)
    at += HASH_SIZE
  }
  out.set(entryBytes, at)
  return out
}

export function decodeEntryRecord(plain: Buffer): EntryRecord {
  const k = plain[0]
  if (k === undefined || plain.length < 1 + k * HASH_SIZE) {
    throw new EhrlogError('STORE_CORRUPT', 'entry record is shorter than its node count says')
  }
  const nodes: Uint8Array[] = []
  for (let i = 0; i < k; i++) nodes.push(plain.subarray(1 + i * HASH_SIZE, 1 + (i + 1) * HASH_SIZE))
  return { nodes, entryBytes: plain.subarray(1 + k * HASH_SIZE) }
}

export function encodeHeadRecord(root: Uint8Array, signature: Uint8Array): Buffer {
  return Buffer.concat([root, signature])
}

export function decodeHeadRecord(plain: Buffer): { root: Uint8Array; signature: Uint8Array } {
  if (plain.length !== HASH_SIZE + 64) {
    throw new EhrlogError('STORE_CORRUPT', `head record has ${plain.length} bytes, want 96`)
  }
  return { root: plain.subarray(0, HASH_SIZE), signature: plain.subarray(HASH_SIZE) }
}
