import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'

/**
 * The one node:crypto function the verification path reaches (core/merkle/hash.ts), for the
 * browser bundle: esbuild aliases `node:crypto` to this file. SHA-256 only; the output
 * encodings of Node's crypto.hash (default 'hex').
 */
export function hash(algorithm: string, data: Uint8Array, outputEncoding = 'hex'): unknown {
  if (algorithm !== 'sha256') throw new Error(`hash ${algorithm} is not in the browser bundle`)
  const digest = sha256(data)
  if (outputEncoding === 'hex') return bytesToHex(digest)
  if (outputEncoding === 'buffer') return Buffer.from(digest)
  throw new Error(`hash output ${outputEncoding} is not in the browser bundle`)
}
