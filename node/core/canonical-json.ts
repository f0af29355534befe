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
 * escaping is JSON.stringify's, which section 3.2.2.2 adopts. Built by string
 * concatenation, without intermediate arrays: every append encodes each entry once.
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
      const obj = value as Record<string, unknown>
      const keys = Object.keys(obj).sort()
      let out = '{'
      for (const key of keys) {
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
