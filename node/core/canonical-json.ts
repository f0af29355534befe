import { EhrlogError } from './errors.ts'

/**
 * Characters JSON.stringify would escape in a string: quote, backslash, C0 controls, and
 * surrogates (a lone one is escaped; a paired one is not, but is rare enough to send down
 * the slow path too). A string without any is its own JSON body between quotes.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values ehrlog hashes: objects, arrays,
 * strings, safe integers, booleans and null. Floats are refused rather than canonicalized,
 * so no entry depends on ECMAScript number formatting. Keys sort by UTF-16 code units
 * (RFC 8785 section 3.2.3), which is what Array.prototype.sort does for strings; string
 * escaping is JSON.stringify's, which section 3.2.2.2 adopts.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new EhrlogError('ENTRY_INVALID', `number ${value} is not a safe integer`)
      }
      return String(value)
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ','
          out += canonicalJson(value[i])
        }
        return `${out}]`
      }
      const flat = sortedFlatCopy(value)
      if (flat) return JSON.stringify(flat)
      const obj = value as Record<string, unknown>
      let out = '{'
      for (const key of sortedKeys(Object.keys(obj))) {
        const v = obj[key]
        if (v === undefined) continue
        if (out.length > 1) out += ','
        out += canonicalJson(key)
        out += ':'
        out += canonicalJson(v)
      }
      return `${out}}`
    }
    default:
      throw new EhrlogError('ENTRY_INVALID', `cannot canonicalize a ${typeof value}`)
  }
}

/**
 * A copy of a flat plain object (values strings, safe integers, booleans, null or
 * undefined) with its keys inserted in RFC 8785 order, so that JSON.stringify(copy) ===
 * canonicalJson(value): one native call that builds the string at once instead of dozens
 * of partial strings (~4% less main-thread CPU per appended event). Undefined for anything
 * else, and for keys JSON.stringify would not emit in insertion order (array indices come
 * first in property order; __proto__ cannot be assigned as a key).
 */
export function sortedFlatCopy(value: unknown): Record<string, unknown> | undefined {
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return undefined
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
  for (const key of keys) {
    const v = obj[key]
    const type = typeof v
    if (type === 'string' || type === 'boolean' || v === null || v === undefined) continue
    if (type !== 'number' || !Number.isSafeInteger(v)) return undefined
  }
  const sorted = sortedKeys(keys)
  if (!lastInsertable) return undefined
  const copy: Record<string, unknown> = {}
  for (const key of sorted) copy[key] = obj[key]
  return copy
}

// Bodies of one kind share their keys: the sorted order of the last key list is kept.
let lastKeys: readonly string[] = []
let lastSorted: string[] = []
let lastInsertable = true

/** Keys in RFC 8785 order (section 3.2.3: UTF-16 code units, Array.prototype.sort's order). */
function sortedKeys(keys: string[]): string[] {
  if (keys.length === lastKeys.length && keys.every((k, i) => k === lastKeys[i])) return lastSorted
  lastKeys = keys
  lastSorted = keys.slice().sort()
  lastInsertable = keys.every((k) => k !== '__proto__' && !/^\d+$/.test(k))
  return lastSorted
}
