import { fromHex } from '../hex.ts'
import { ORIGIN_PATTERN } from '../layout.ts'

/* Parsers for the untrusted fields of an answer: undefined (or empty) for anything malformed. */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export function fromBase64(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string' || !BASE64.test(text)) return undefined
  const binary = atob(text)
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}

/** A proof's list of 32-byte hashes in hex; at most 64 (a tree of 2^64 leaves). */
export function hashes(list: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(list) || list.length > 64) return undefined
  const out: Uint8Array[] = []
  for (const h of list) {
    const bytes = typeof h === 'string' ? fromHex(h, 32) : undefined
    if (!bytes) return undefined
    out.push(bytes)
  }
  return out
}

/** `held`: entries per origin; malformed pairs are left out (it only narrows the cross-check). */
export function heldOf(value: unknown): Map<string, number> {
  const out = new Map<string, number>()
  if (typeof value !== 'object' || value === null) return out
  for (const [origin, size] of Object.entries(value))
    if (ORIGIN_PATTERN.test(origin) && Number.isSafeInteger(size)) out.set(origin, size as number)
  return out
}
