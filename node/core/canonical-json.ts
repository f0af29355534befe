import { EhrlogError } from './errors.ts'

/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values ehrlog hashes: objects, arrays,
 * strings, safe integers, booleans and null. Floats are refused rather than canonicalized,
 * so no entry depends on ECMAScript number formatting. Keys sort by UTF-16 code units
 * (RFC 8785 section 3.2.3), which is what Array.prototype.sort does for strings; string
 * escaping is JSON.stringify's, which section 3.2.2.2 adopts.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new EhrlogError('ENTRY_INVALID', `number ${value} is not a safe integer`)
      }
      return String(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
      const obj = value as Record<string, unknown>
      const parts: string[] = []
      for (const key of Object.keys(obj).sort()) {
        const v = obj[key]
        if (v === undefined) continue
        parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`)
      }
      return `{${parts.join(',')}}`
    }
    default:
      throw new EhrlogError('ENTRY_INVALID', `cannot canonicalize a ${typeof value}`)
  }
}
