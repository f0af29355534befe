import { sha256 } from '@noble/hashes/sha2.js'

/**
 * The one node:crypto function the verification path reaches (core/merkle/hash.ts), for the
 * browser bundle: esbuild aliases `node:crypto` to this file. SHA-256 only.
 */
export function hash(algorithm: string, data: Uint8Array): Uint8Array {
  if (algorithm !== 'sha256') throw new Error(`hash ${algorithm} is not in the browser bundle`)
  return sha256(data)
}
