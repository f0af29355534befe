import { hash } from 'node:crypto'

/**
 * RFC 9162 section 2.1.1 hashing with SHA-256: leaves are hashed with a 0x00 prefix and
 * interior nodes with 0x01, so a leaf can never be passed off as an interior node.
 */
export const HASH_SIZE = 32

const LEAF_PREFIX = 0x00
const NODE_PREFIX = 0x01

/**
 * prefix || data is assembled in this reused buffer rather than a fresh Buffer.concat:
 * appends and verify hash every entry, and the allocation showed up as GC time. Safe to
 * share because hash() is synchronous. Larger leaves take a one-off buffer.
 */
const scratch = Buffer.allocUnsafe(8192)

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', data, 'buffer'))
}

/** MTH({d}) = SHA-256(0x00 || d). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  const n = data.byteLength + 1
  const input = n <= scratch.length ? scratch.subarray(0, n) : Buffer.allocUnsafe(n)
  input[0] = LEAF_PREFIX
  input.set(data, 1)
  return new Uint8Array(hash('sha256', input, 'buffer'))
}

/** hashLeaf(data), written to out[at..at+32] (verify hashes every entry into one array). */
export function hashLeafInto(data: Uint8Array, out: Uint8Array, at: number): void {
  const n = data.byteLength + 1
  const input = n <= scratch.length ? scratch.subarray(0, n) : Buffer.allocUnsafe(n)
  input[0] = LEAF_PREFIX
  input.set(data, 1)
  out.set(hash('sha256', input, 'buffer'), at)
}

/** SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  const n = 1 + left.byteLength + right.byteLength
  const input = n <= scratch.length ? scratch.subarray(0, n) : Buffer.allocUnsafe(n)
  input[0] = NODE_PREFIX
  input.set(left, 1)
  input.set(right, 1 + left.byteLength)
  return new Uint8Array(hash('sha256', input, 'buffer'))
}

/** MTH({}) = SHA-256() : the root of the empty tree. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0))
