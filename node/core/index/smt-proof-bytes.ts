import { EhrlogError } from '../errors.ts'
import { bytesEqual } from '../hex.ts'
import { EMPTY_HASH, INDEX_HASH_SIZE } from './layout.ts'
import { SMT_KEY_SIZE, type SmtProof, type SmtTerminal } from './smt-proof.ts'

/*
 * The bytes of a sparse Merkle tree proof (docs/format.md, "Index proofs"):
 *   u16be(depth) || bitmap[ceil(depth/8)] || the non-empty siblings, 32 bytes each ||
 *   terminal: 0x00 empty | 0x01 the key's own leaf | 0x02 other key[32] || value hash[32]
 * Bitmap bit i (most significant first) is set when siblings[i] is not empty. Decoding is
 * strict (padding bits zero, no trailing bytes, no empty hash sent as a sibling), so one
 * proof has one encoding.
 */

const TERMINAL_CODE = { empty: 0, key: 1, other: 2 } as const

export function encodeSmtProof(proof: SmtProof): Uint8Array {
  const depth = proof.siblings.length
  const present = proof.siblings.filter((s) => !bytesEqual(s, EMPTY_HASH))
  const bitmapSize = Math.ceil(depth / 8)
  const tail = proof.terminal.kind === 'other' ? 1 + 2 * INDEX_HASH_SIZE : 1
  const out = new Uint8Array(2 + bitmapSize + present.length * INDEX_HASH_SIZE + tail)
  new DataView(out.buffer).setUint16(0, depth)
  let at = 2 + bitmapSize
  proof.siblings.forEach((s, i) => {
    if (bytesEqual(s, EMPTY_HASH)) return
    out[2 + (i >> 3)]! |= 0x80 >> (i & 7)
    out.set(s, at)
    at += INDEX_HASH_SIZE
  })
  out[at] = TERMINAL_CODE[proof.terminal.kind]
  if (proof.terminal.kind === 'other') {
    out.set(proof.terminal.key, at + 1)
    out.set(proof.terminal.valueHash, at + 1 + SMT_KEY_SIZE)
  }
  return out
}

/** Parses untrusted proof bytes; MESSAGE_INVALID (field `proof`) for anything malformed. */
export function decodeSmtProof(bytes: Uint8Array): SmtProof {
  const bad = (why: string) =>
    new EhrlogError('MESSAGE_INVALID', `index proof: ${why}`, { details: { field: 'proof' } })
  if (bytes.length < 3) throw bad(`${bytes.length} bytes is too short`)
  const depth = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(0)
  if (depth > 8 * SMT_KEY_SIZE) throw bad(`depth ${depth} is over 256`)
  const bitmapSize = Math.ceil(depth / 8)
  if (bytes.length < 2 + bitmapSize + 1) throw bad('too short for its bitmap')
  const siblings: Uint8Array[] = []
  let at = 2 + bitmapSize
  for (let i = 0; i < depth; i++) {
    if ((bytes[2 + (i >> 3)]! & (0x80 >> (i & 7))) === 0) {
      siblings.push(EMPTY_HASH)
      continue
    }
    if (at + INDEX_HASH_SIZE > bytes.length) throw bad(`sibling ${i} is cut off`)
    const s = bytes.slice(at, at + INDEX_HASH_SIZE)
    if (bytesEqual(s, EMPTY_HASH)) throw bad(`sibling ${i} is sent but empty`)
    siblings.push(s)
    at += INDEX_HASH_SIZE
  }
  for (let i = depth; i < bitmapSize * 8; i++) {
    if ((bytes[2 + (i >> 3)]! & (0x80 >> (i & 7))) !== 0) throw bad('bitmap padding is not zero')
  }
  if (at >= bytes.length) throw bad('terminal is missing')
  const code = bytes[at]!
  let terminal: SmtTerminal
  if (code === TERMINAL_CODE.empty) terminal = { kind: 'empty' }
  else if (code === TERMINAL_CODE.key) terminal = { kind: 'key' }
  else if (code === TERMINAL_CODE.other) {
    if (at + 1 + 2 * INDEX_HASH_SIZE > bytes.length) throw bad('the other leaf is cut off')
    terminal = {
      kind: 'other',
      key: bytes.slice(at + 1, at + 1 + SMT_KEY_SIZE),
      valueHash: bytes.slice(at + 1 + SMT_KEY_SIZE, at + 1 + 2 * INDEX_HASH_SIZE),
    }
    at += 2 * INDEX_HASH_SIZE
  } else throw bad(`terminal code ${code} is not 0, 1 or 2`)
  if (at + 1 !== bytes.length) throw bad(`${bytes.length - at - 1} bytes after the end`)
  return { siblings, terminal }
}
