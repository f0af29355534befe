import { TAGS } from '../layout.ts'
import { sha256, sha256Into } from '../merkle/hash.ts'

/*
 * The bytes the per-patient index hashes, each written out below and in docs/format.md
 * ("The per-patient index"); the tags themselves live with all others in core/layout.ts.
 * Every hash is SHA-256(UTF8(tag) || 0x00 || fields), so no two kinds of value can collide.
 */

export const INDEX_HASH_SIZE = 32
/** The hash of an empty subtree, and the chain value before a patient's first entry. */
export const EMPTY_HASH: Uint8Array = new Uint8Array(INDEX_HASH_SIZE)

const utf8 = new TextEncoder()
const prefixes = new Map<string, Uint8Array>()

/** UTF8(tag) || 0x00, built once per tag. */
function prefixOf(tag: string): Uint8Array {
  let p = prefixes.get(tag)
  if (!p) {
    p = new Uint8Array([...utf8.encode(tag), 0])
    prefixes.set(tag, p)
  }
  return p
}

/**
 * The input is assembled in this reused buffer: tree updates hash on every touched node.
 * Safe to share because sha256 is synchronous. Inputs here are at most ~400 bytes.
 */
const scratch = new Uint8Array(1024)

/** Views scratch[0, n), made once per length: a rebuild hashes ~1.5 million times. */
const scratchViews: Uint8Array[] = []

function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const prefix = prefixOf(tag)
  let n = prefix.length
  for (const p of parts) n += p.length
  let input = scratchViews[n]
  if (!input) {
    input = n <= scratch.length ? scratch.subarray(0, n) : new Uint8Array(n)
    if (n <= scratch.length) scratchViews[n] = input
  }
  input.set(prefix, 0)
  let at = prefix.length
  for (const p of parts) {
    input.set(p, at)
    at += p.length
  }
  return sha256(input)
}

function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8)
  const hi = Math.floor(n / 0x1_0000_0000)
  const lo = n >>> 0
  b[0] = hi >>> 24
  b[1] = (hi >>> 16) & 0xff
  b[2] = (hi >>> 8) & 0xff
  b[3] = hi & 0xff
  b[4] = lo >>> 24
  b[5] = (lo >>> 16) & 0xff
  b[6] = (lo >>> 8) & 0xff
  b[7] = lo & 0xff
  return b
}

/** u8 len || UTF8(s) of the last few strings (origins: a handful), reused read-only. */
const shortStrings = new Map<string, Uint8Array>()

function shortString(s: string): Uint8Array {
  let out = shortStrings.get(s)
  if (!out) {
    const bytes = utf8.encode(s)
    if (bytes.length > 255) throw new RangeError(`"${s.slice(0, 20)}…" is longer than 255 bytes`)
    out = new Uint8Array([bytes.length, ...bytes])
    if (shortStrings.size >= 64) shortStrings.clear()
    shortStrings.set(s, out)
  }
  return out
}

/** The VRF input (alpha) for a patient: UTF8(TAGS.indexVrfInput) || 0x00 || UTF8(patient id). */
export function vrfInput(patientId: string): Uint8Array {
  const prefix = prefixOf(TAGS.indexVrfInput)
  const id = utf8.encode(patientId)
  const out = new Uint8Array(prefix.length + id.length)
  out.set(prefix)
  out.set(id, prefix.length)
  return out
}

/**
 * The patient's tree key at one origin: SHA-256(UTF8(TAGS.indexKey) || 0x00 || beta[64] ||
 * u8 len || UTF8(origin)). Per origin, so one patient's leaves in two origins' trees cannot be
 * linked by anyone without the VRF output.
 */
export function indexKey(beta: Uint8Array, origin: string): Uint8Array {
  return taggedHash(TAGS.indexKey, beta, shortString(origin))
}

/**
 * The salt of the patient's leaf at one origin: the same layout under TAGS.indexSalt. Secret
 * to whoever lacks beta, so a leaf's value hash hides its count and chain even though counts
 * are small numbers.
 */
export function indexSalt(beta: Uint8Array, origin: string): Uint8Array {
  return taggedHash(TAGS.indexSalt, beta, shortString(origin))
}

/**
 * One step of a patient's chain at one origin: SHA-256(UTF8(TAGS.indexChain) || 0x00 ||
 * previous[32] || u64be(seq)), starting from EMPTY_HASH; seqs in feed order.
 */
export function chainNext(previous: Uint8Array, seq: number): Uint8Array {
  return taggedHash(TAGS.indexChain, previous, u64be(seq))
}

/** The input of chainNextInPlace: the tag's prefix, then previous[32] || u64be(seq). */
let chainInput: Uint8Array | undefined

/**
 * chainNext in place: chains[at, at + 32) becomes chainNext(itself, seq). No allocation: a
 * rebuild takes one step per entry (a million for a 1M-entry store).
 */
export function chainNextInPlace(chains: Uint8Array, at: number, seq: number): void {
  const prefix = prefixOf(TAGS.indexChain)
  if (!chainInput) {
    chainInput = new Uint8Array(prefix.length + INDEX_HASH_SIZE + 8)
    chainInput.set(prefix)
  }
  const input = chainInput
  let i = prefix.length
  for (let k = 0; k < INDEX_HASH_SIZE; k++) input[i++] = chains[at + k]!
  const hi = Math.floor(seq / 0x1_0000_0000)
  const lo = seq >>> 0
  input[i++] = hi >>> 24
  input[i++] = (hi >>> 16) & 0xff
  input[i++] = (hi >>> 8) & 0xff
  input[i++] = hi & 0xff
  input[i++] = lo >>> 24
  input[i++] = (lo >>> 16) & 0xff
  input[i++] = (lo >>> 8) & 0xff
  input[i++] = lo & 0xff
  sha256Into(input, chains, at)
}

/** A leaf's value: SHA-256(UTF8(TAGS.indexValue) || 0x00 || salt[32] || u64be(count) || chain[32]). */
export function indexValueHash(salt: Uint8Array, count: number, chain: Uint8Array): Uint8Array {
  return taggedHash(TAGS.indexValue, salt, u64be(count), chain)
}

/** A leaf, which is also the hash of a subtree holding only it: SHA-256(tag || 0x00 || key[32] || value hash[32]). */
export function smtLeafHash(key: Uint8Array, valueHash: Uint8Array): Uint8Array {
  return taggedHash(TAGS.indexLeaf, key, valueHash)
}

/** A node over two or more leaves: SHA-256(UTF8(TAGS.indexNode) || 0x00 || left[32] || right[32]). */
export function smtNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return taggedHash(TAGS.indexNode, left, right)
}

/** Bit `depth` of a 256-bit key, most significant first: 0 goes left, 1 right. */
export function keyBit(key: Uint8Array, depth: number): number {
  return (key[depth >> 3]! >> (7 - (depth & 7))) & 1
}
