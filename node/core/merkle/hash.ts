import { hash } from 'node:crypto'

/**
 * RFC 9162 section 2.1.1 hashing with SHA-256: leaves are hashed with a 0x00 prefix and
 * interior nodes with 0x01, so a leaf can never be passed off as an interior node.
 */
export const HASH_SIZE = 32

const LEAF_PREFIX = Buffer.from([0x00])
const NODE_PREFIX = Buffer.from([0x01])

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', data, 'buffer'))
}

/** MTH({d}) = SHA-256(0x00 || d). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer'))
}

/** SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer'))
}

/** MTH({}) = SHA-256() : the root of the empty tree. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0))
