import { EhrlogError } from '../errors.ts'
import { ORIGIN_PATTERN } from '../layout.ts'
import type { CompletenessProof, OriginIndexProof } from './completeness.ts'
import { INDEX_HASH_SIZE } from './layout.ts'
import { decodeSmtProof, encodeSmtProof } from './smt-proof-bytes.ts'
import { VRF_PROOF_SIZE } from './vrf.ts'

/*
 * The bytes of a completeness proof (docs/format.md, "Completeness proofs"):
 *   vrf proof[80] || u16be(origin count) || for each origin, names in ascending byte order:
 *     u8 len || UTF8(origin) || 0x00 (no leaf) | 0x01 u64be(count) || chain[32] ||
 *     u16be(len) || index proof (smt-proof-bytes.ts)
 * Decoding is strict: sorted, distinct origin names, a count of at least 1 with a leaf, no
 * trailing bytes. Everything here arrives from the network.
 */

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

export function encodeCompletenessProof(proof: CompletenessProof): Uint8Array {
  const parts: Uint8Array[] = [proof.vrfProof, u16(proof.origins.length)]
  for (const p of proof.origins) {
    const name = utf8.encode(p.origin)
    parts.push(Uint8Array.of(name.length), name)
    if (p.opening) {
      const count = new Uint8Array(9)
      count[0] = 1
      new DataView(count.buffer).setBigUint64(1, BigInt(p.opening.count))
      parts.push(count, p.opening.chain)
    } else {
      parts.push(Uint8Array.of(0))
    }
    const smt = encodeSmtProof(p.proof)
    parts.push(u16(smt.length), smt)
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Parses untrusted bytes; MESSAGE_INVALID naming the field for anything malformed. */
export function decodeCompletenessProof(bytes: Uint8Array): CompletenessProof {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const bad = (field: string, why: string) =>
    new EhrlogError('MESSAGE_INVALID', `completeness proof ${field}: ${why}`, {
      details: { field, offset: at },
    })
  const take = (field: string, n: number): Uint8Array => {
    if (at + n > bytes.length) throw bad(field, `cut off at byte ${bytes.length}`)
    const out = bytes.slice(at, at + n)
    at += n
    return out
  }
  const u16At = (field: string) => {
    take(field, 2)
    return view.getUint16(at - 2)
  }
  const vrfProof = take('vrfProof', VRF_PROOF_SIZE)
  const n = u16At('origins')
  const origins: OriginIndexProof[] = []
  let previous = ''
  for (let i = 0; i < n; i++) {
    const field = `origins[${i}]`
    const len = take(`${field}.origin`, 1)[0]!
    let origin: string
    try {
      origin = fromUtf8.decode(take(`${field}.origin`, len))
    } catch {
      throw bad(`${field}.origin`, 'is not UTF-8')
    }
    if (!ORIGIN_PATTERN.test(origin))
      throw bad(`${field}.origin`, `"${origin}" is not an origin name`)
    if (i > 0 && !(origin > previous))
      throw bad(`${field}.origin`, 'origins are not sorted and distinct')
    previous = origin
    const flag = take(`${field}.opening`, 1)[0]!
    let opening: OriginIndexProof['opening']
    if (flag === 1) {
      take(`${field}.opening.count`, 8)
      const count = view.getBigUint64(at - 8)
      if (count < 1n || count > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw bad(`${field}.opening.count`, `${count} is not a count of entries`)
      }
      opening = { count: Number(count), chain: take(`${field}.opening.chain`, INDEX_HASH_SIZE) }
    } else if (flag !== 0) {
      throw bad(`${field}.opening`, `flag ${flag} is not 0 or 1`)
    }
    const proofLength = u16At(`${field}.proof`)
    const smtBytes = take(`${field}.proof`, proofLength)
    let proof: OriginIndexProof['proof']
    try {
      proof = decodeSmtProof(smtBytes)
    } catch (err) {
      throw new EhrlogError(
        'MESSAGE_INVALID',
        `completeness proof ${field}.proof: ${(err as Error).message}`,
        {
          cause: err,
          details: { field: `${field}.proof` },
        },
      )
    }
    origins.push(opening ? { origin, opening, proof } : { origin, proof })
  }
  if (at !== bytes.length) throw bad('end', `${bytes.length - at} bytes after the last origin`)
  return { vrfProof, origins }
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff)
}
