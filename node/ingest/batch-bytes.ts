import { GOSSIP_HEADER_BYTES } from '../net/batch-codec.ts'
import { LIMITS } from '../net/protocol.ts'

/**
 * Bytes an event entry's envelope adds around its body, at most: `{"body":`, `"kind":"event"`,
 * an origin of up to 63 characters (a DNS label), the 64 hex digits of `prev`, the 24 of
 * `recorded`, a seq of up to 16 digits and `v`, with their keys, quotes and commas (240).
 */
const ENVELOPE_BYTES = 256

/** A gossip batch record's bytes outside its entries: head (origin, size, root, signature), count. */
const RECORD_OVERHEAD_BYTES = 1 + 63 + 8 + 32 + 64 + 4

/**
 * The most entry bytes (each with its 4-byte length) one append batch of the own feed may
 * carry and still go out whole in one gossip message (LIMITS.maxGossipMessageBytes). Over
 * it, gossip sends only the head and every replica pulls the batch back from this node
 * (docs/performance.md, session 10).
 */
export const MAX_GOSSIP_BATCH_BYTES =
  LIMITS.maxGossipMessageBytes - GOSSIP_HEADER_BYTES - RECORD_OVERHEAD_BYTES

/**
 * An upper bound on the bytes `body` takes as an entry of the own feed (its canonical JSON
 * with the envelope, encodeEntry) plus the 4-byte length in front of it in a batch record.
 * Exact for the body of an audit event: its values are strings without control characters
 * (the event schema), so each UTF-16 unit is 1-3 UTF-8 bytes and `"`, `\` are escaped in
 * 2; anything else is bounded through JSON.stringify. Costs a scan of the short text fields,
 * not a serialization: the fields the schema holds to ASCII without escapes (`original`,
 * canonical base64 of up to 16 KiB, and `originalSha256`) count by their length, unscanned.
 * For an event that skipped the schema the bound may be short; such a batch only goes out
 * as an announcement (replicas pull it), as every batch over the limit did before.
 */
export function entryBytesBound(body: unknown): number {
  let bytes = ENVELOPE_BYTES + 4 + 2 // envelope, length prefix, the body's braces
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bytes + jsonBytesBound(body)
  for (const key in body) {
    const v = (body as Record<string, unknown>)[key]
    if (v === undefined) continue
    // "key":value, (a comma too many for the last: a bound)
    bytes += stringBytes(key) + 4
    if (typeof v !== 'string') bytes += jsonBytesBound(v)
    else bytes += (ASCII_FIELDS.has(key) ? v.length : stringBytes(v)) + 2
  }
  return bytes
}

/** Event fields the schema holds to unescaped ASCII (base64, hex). */
const ASCII_FIELDS: ReadonlySet<string> = new Set(['original', 'originalSha256'])

/** UTF-8 bytes of `s` inside a JSON string, for text without control characters. */
function stringBytes(s: string): number {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20)
      n += 5 // \u00XX (never in an event: a bound for anything else)
    else if (c === 0x22 || c === 0x5c) n += 1
    else if (c >= 0x80) n += c < 0x800 ? 1 : 2 // a surrogate pair: 2 + 2 for its 4 bytes
  }
  return n
}

function jsonBytesBound(v: unknown): number {
  const text = JSON.stringify(v) ?? 'null'
  return stringBytes(text)
}
