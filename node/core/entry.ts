import { canonicalJson, sortedFlatCopy } from './canonical-json.ts'
import { EhrlogError } from './errors.ts'
import type { AuditEvent } from './event.ts'
import { toHex } from './hex.ts'
import { ENTRY_VERSION, GENESIS_PREV, ORIGIN_PATTERN } from './layout.ts'
import { hashLeaf, hashLeafBoth } from './merkle/hash.ts'

/**
 * What the log stores. `kind` says what `body` is: an audit event from the EHR, or a
 * record the network itself keeps in feeds (users, alerts, private statistics: core/stats,
 * membership governance).
 */
export type EntryKind = 'event' | 'user' | 'alert' | 'stats' | 'membership'

export interface Entry<B = unknown> {
  v: number
  origin: string
  seq: number
  /** When the origin recorded it: ISO 8601 UTC with milliseconds. */
  recorded: string
  /** Leaf hash of entry seq-1 in hex; GENESIS_PREV for seq 1. */
  prev: string
  kind: EntryKind
  body: B
}

export type EventEntry = Entry<AuditEvent>

/** An entry with its canonical bytes and leaf hash: how entries travel and are stored. */
export interface EncodedEntry {
  entry: Entry
  bytes: Uint8Array
  /** RFC 9162 leaf hash SHA-256(0x00 || bytes): the entry hash, used by chain and tree. */
  hash: Uint8Array
  /** `hash` in hex, when the decoder had it (the next entry's `prev` is compared to it). */
  hashHex?: string
}

/** Whether `text` is a SHA-256 hash as 64 lower-case hex digits (as toHex writes it). */
function isHashHex(text: string): boolean {
  if (text.length !== 64) return false
  for (let i = 0; i < 64; i++) {
    const c = text.charCodeAt(i)
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false
  }
  return true
}

/** The envelope's keys in RFC 8785 order. */
const ENVELOPE_KEYS = ['body', 'kind', 'origin', 'prev', 'recorded', 'seq', 'v'] as const

/**
 * Whether JSON.stringify(e) is the canonical encoding of a parsed entry without reordering
 * anything: the envelope's keys came in RFC 8785 order, and the body is flat (the values
 * sortedFlatCopy takes) with keys already in order and none that JSON.stringify would move
 * (array indices) or JSON.parse treats specially (__proto__). decodeEntry then compares
 * JSON.stringify(e) with the text (isStringified), with no sorted copy made; for anything
 * else (undefined) it builds the canonical text the general way. Canonical entries from honest
 * nodes always pass. Gives the body's keys (Object.keys) when it passes.
 */
function inCanonicalOrder(
  e: Record<string, unknown>,
  keys: readonly string[],
): readonly string[] | undefined {
  for (let i = 0; i < ENVELOPE_KEYS.length; i++) if (keys[i] !== ENVELOPE_KEYS[i]) return undefined
  const body = e.body as Record<string, unknown>
  if (Array.isArray(body)) return undefined
  let previous = ''
  const bodyKeys = Object.keys(body)
  for (const key of bodyKeys) {
    const first = key.charCodeAt(0)
    if ((first >= 0x30 && first <= 0x39) || key === '__proto__' || !(key > previous))
      return undefined
    previous = key
    const v = body[key]
    const type = typeof v
    if (type === 'string' || type === 'boolean' || v === null) continue
    if (type !== 'number' || !Number.isSafeInteger(v)) return undefined
  }
  return bodyKeys
}

/**
 * JSON.stringify(e) === text for an entry inCanonicalOrder accepted and a text with no
 * backslash, without building the string (~1.3 KiB per replicated event): the text is walked
 * piece by piece in the order JSON.stringify writes them. Without a backslash in the text no
 * string in it has an escape, so each string value is exactly the characters between its
 * quotes; and JSON.parse admits no raw quote, backslash or control character in a string, and
 * strict UTF-8 no lone surrogate: nothing JSON.stringify would escape. So JSON.stringify(s)
 * is s between quotes for every string parsed from such a text, and is compared in place.
 * Same answer as the round trip (property-tested in test/core/entry-canonical.test.ts).
 */
function isStringified(text: string, e: Entry, keys: readonly string[]): boolean {
  const body = e.body as Record<string, unknown>
  let p = literal(text, 0, '{"body":{')
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) p = literal(text, p, ',')
    p = literal(text, quoted(text, p, keys[i]!), ':')
    const v = body[keys[i]!]
    p = typeof v === 'string' ? quoted(text, p, v) : literal(text, p, String(v))
  }
  p = quoted(text, literal(text, p, '},"kind":'), e.kind)
  p = quoted(text, literal(text, p, ',"origin":'), e.origin)
  p = quoted(text, literal(text, p, ',"prev":'), e.prev)
  p = quoted(text, literal(text, p, ',"recorded":'), e.recorded)
  p = literal(text, literal(text, p, ',"seq":'), String(e.seq))
  p = literal(text, literal(text, p, ',"v":'), String(e.v))
  return literal(text, p, '}') === text.length
}

/** The position after `piece` when text has it at `p` (-1 passes through); else -1. */
function literal(text: string, p: number, piece: string): number {
  return p >= 0 && text.startsWith(piece, p) ? p + piece.length : -1
}

/** literal(text, p, `"${s}"`), with s compared by slice and === (startsWith: ~15x slower). */
function quoted(text: string, p: number, s: string): number {
  if (p < 0) return -1
  const end = p + 1 + s.length
  return text.charCodeAt(p) === 0x22 &&
    text.charCodeAt(end) === 0x22 &&
    text.slice(p + 1, end) === s
    ? end + 1
    : -1
}

const KINDS: ReadonlySet<string> = new Set(['event', 'user', 'alert', 'stats', 'membership'])
/**
 * Strict UTF-8 that keeps a BOM: decoding is then one-to-one, so two entries' texts are
 * equal exactly when their bytes are (decodeEntry compares texts).
 */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Entry id: origin and seq, e.g. `hospital-a:42`. Stable across replicas. */
export function entryId(origin: string, seq: number): string {
  return `${origin}:${seq}`
}

/** Parses `origin:seq`; undefined when malformed. */
export function parseEntryId(id: string): { origin: string; seq: number } | undefined {
  const i = id.lastIndexOf(':')
  if (i <= 0) return undefined
  const origin = id.slice(0, i)
  const seq = Number(id.slice(i + 1))
  if (!ORIGIN_PATTERN.test(origin) || !Number.isSafeInteger(seq) || seq < 1) return undefined
  return { origin, seq }
}

/** RFC 8785 bytes of an entry (UTF-8). Every envelope field must be set (bodies may be any JSON). */
export function encodeEntry(entry: Entry): EncodedEntry {
  // Buffer.from takes small results from Node's shared 8 KiB pool, where TextEncoder makes
  // one off-heap allocation per entry for the GC to track (~0.3 µs of CPU more). The bytes
  // stay a plain Uint8Array view: `.buffer` is the pool, so use byteOffset/byteLength.
  const pooled = Buffer.from(entryJson(entry), 'utf8')
  const bytes = new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.byteLength)
  return { entry, bytes, hash: hashLeaf(bytes) }
}

/**
 * canonicalJson(entry), specialised for the append hot path: RFC 8785 sorts the envelope's
 * seven keys into this fixed order, so only the body needs keys sorted, and a flat body (an
 * audit event) goes through JSON.stringify in one native call with the envelope. Byte-
 * identical to canonicalJson for every entry (property-tested in test/core/entry.test.ts).
 */
function entryJson(e: Entry): string {
  const body = sortedFlatCopy(e.body)
  if (
    body &&
    typeof e.kind === 'string' &&
    typeof e.origin === 'string' &&
    typeof e.prev === 'string' &&
    typeof e.recorded === 'string' &&
    Number.isSafeInteger(e.seq) &&
    Number.isSafeInteger(e.v)
  ) {
    const { kind, origin, prev, recorded, seq, v } = e
    return JSON.stringify({ body, kind, origin, prev, recorded, seq, v })
  }
  return `{"body":${canonicalJson(e.body)},"kind":${canonicalJson(e.kind)},"origin":${canonicalJson(e.origin)},"prev":${canonicalJson(e.prev)},"recorded":${canonicalJson(e.recorded)},"seq":${canonicalJson(e.seq)},"v":${canonicalJson(e.v)}}`
}

/** Builds the next entry of a feed after `prevHash` (undefined for the first). */
export function makeEntry(
  origin: string,
  seq: number,
  prevHash: Uint8Array | undefined,
  kind: EntryKind,
  body: unknown,
  /** A Date, or its toISOString() when a batch shares one time. */
  recorded: Date | string,
): EncodedEntry {
  return encodeEntry({
    v: ENTRY_VERSION,
    origin,
    seq,
    recorded: typeof recorded === 'string' ? recorded : recorded.toISOString(),
    prev: prevHash ? toHex(prevHash) : GENESIS_PREV,
    kind,
    body,
  })
}

function invalid(message: string, details: Record<string, unknown> = {}): EhrlogError {
  return new EhrlogError('ENTRY_INVALID', message, { details })
}

/**
 * Decodes untrusted entry bytes and checks the envelope: field types, version, origin
 * pattern, and that the bytes are the canonical encoding (so one entry has one hash).
 * The body is checked by its kind's schema elsewhere.
 */
export function decodeEntry(bytes: Uint8Array): EncodedEntry {
  let text: string
  let parsed: unknown
  try {
    text = utf8Decoder.decode(bytes)
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new EhrlogError('ENTRY_INVALID', 'entry bytes are not UTF-8 JSON', { cause })
  }
  const e = parsed as Partial<Entry>
  if (typeof e !== 'object' || e === null || Array.isArray(e))
    throw invalid('entry is not an object')
  if (e.v !== ENTRY_VERSION) throw invalid(`entry version ${String(e.v)}, want ${ENTRY_VERSION}`)
  if (typeof e.origin !== 'string' || !ORIGIN_PATTERN.test(e.origin)) {
    throw invalid('entry origin is not a valid node name', { field: 'origin' })
  }
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) {
    throw invalid('entry seq is not a positive integer', { field: 'seq' })
  }
  if (typeof e.recorded !== 'string' || Number.isNaN(Date.parse(e.recorded))) {
    throw invalid('entry recorded time is not a date', { field: 'recorded' })
  }
  if (typeof e.prev !== 'string' || !isHashHex(e.prev)) {
    throw invalid('entry prev is not a 32-byte hex hash', { field: 'prev' })
  }
  if (typeof e.kind !== 'string' || !KINDS.has(e.kind)) {
    throw invalid(`entry kind ${String(e.kind)} is unknown`, { field: 'kind' })
  }
  if (typeof e.body !== 'object' || e.body === null) throw invalid('entry body is not an object')
  const keys = Object.keys(e)
  if (keys.length !== 7) throw invalid(`entry has ${keys.length} fields, want 7`)
  // Compared as text, which the strict decoder maps one-to-one to bytes: no re-encoding.
  const bodyKeys = inCanonicalOrder(e as Record<string, unknown>, keys)
  const canonical = !bodyKeys
    ? entryJson(e as Entry) === text
    : text.includes('\\')
      ? JSON.stringify(e) === text
      : isStringified(text, e as Entry, bodyKeys)
  if (!canonical) {
    throw invalid('entry bytes are not in RFC 8785 canonical form')
  }
  const { hash, hex } = hashLeafBoth(bytes)
  return { entry: e as Entry, bytes, hash, hashHex: hex }
}

/**
 * Reads only what chain verification needs, without re-encoding: for the scrub's hot path,
 * over bytes this node already verified once. Throws ENTRY_INVALID when unreadable.
 */
export function readChainFields(bytes: Uint8Array): Entry {
  let parsed: Entry
  try {
    parsed = JSON.parse(utf8Decoder.decode(bytes)) as Entry
  } catch (cause) {
    throw new EhrlogError('ENTRY_INVALID', 'entry bytes are not UTF-8 JSON', { cause })
  }
  if (typeof parsed?.seq !== 'number' || typeof parsed.prev !== 'string') {
    throw invalid('entry lacks seq or prev')
  }
  return parsed
}

const SEQ_KEY = Buffer.from('"seq":')
const PREV_KEY = Buffer.from('"prev":"')
const ORIGIN_KEY = Buffer.from('"origin":"')

/** Where chainFieldsOf found the chain fields, as byte offsets into the entry. */
export interface ChainFieldOffsets {
  originStart: number
  originEnd: number
  seq: number
  /** Start of prev's 64 hex digits (which may run past the end of a crafted entry). */
  prevStart: number
}

/**
 * The scrub's fast path: where origin, seq and prev are in canonical entry bytes, without
 * JSON.parse or any string. In RFC 8785 order the top-level keys end the entry (body, kind,
 * origin, prev, recorded, seq, v), and inside strings every quote is escaped, so the last
 * match of each key is the top-level one. A crafted entry can at most be misread here; its
 * hash, which is what the chain and tree check, is computed over the bytes themselves.
 */
export function chainFieldOffsets(b: Uint8Array): ChainFieldOffsets | undefined {
  const s = lastIndexOf(b, SEQ_KEY, b.length - SEQ_KEY.length)
  const p = s < 0 ? -1 : lastIndexOf(b, PREV_KEY, s)
  const o = p < 0 ? -1 : lastIndexOf(b, ORIGIN_KEY, p)
  if (o < 0) return undefined
  let seq = 0
  let i = s + SEQ_KEY.length
  for (; i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39 && i - s < 24; i++)
    seq = seq * 10 + b[i]! - 0x30
  const originStart = o + ORIGIN_KEY.length
  const originEnd = b.indexOf(0x22, originStart)
  if (originEnd < 0 || i === s + SEQ_KEY.length) return undefined
  return { originStart, originEnd, seq, prevStart: p + PREV_KEY.length }
}

/**
 * Buffer.lastIndexOf(needle, from) for the short keys above: the fields sit a few dozen
 * bytes from the end, and a loop here beats three native calls per entry in verify.
 */
function lastIndexOf(b: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]
  for (let i = Math.min(from, b.length - needle.length); i >= 0; i--) {
    if (b[i] !== first) continue
    let j = 1
    while (j < needle.length && b[i + j] === needle[j]) j++
    if (j === needle.length) return i
  }
  return -1
}

const USER_KIND_BEFORE_ORIGIN = Buffer.from('"kind":"user",')

/**
 * Whether canonical entry bytes are a user record, without parsing: RFC 8785 order puts
 * `"kind":"user",` right before the top-level `"origin":"`, which is the last one in the
 * entry (a body comes first, and quotes inside strings are escaped). For bytes already
 * verified as canonical; on others the answer means nothing.
 */
export function isUserRecord(b: Uint8Array): boolean {
  const o = lastIndexOf(b, ORIGIN_KEY, b.length - ORIGIN_KEY.length)
  const at = o - USER_KIND_BEFORE_ORIGIN.length
  if (at < 0) return false
  for (let i = 0; i < USER_KIND_BEFORE_ORIGIN.length; i++)
    if (b[at + i] !== USER_KIND_BEFORE_ORIGIN[i]) return false
  return true
}

/** chainFieldOffsets, read out as strings. */
export function chainFieldsOf(
  bytes: Uint8Array,
): { origin: string; seq: number; prev: string } | undefined {
  const at = chainFieldOffsets(bytes)
  if (!at) return undefined
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    origin: b.toString('utf8', at.originStart, at.originEnd),
    seq: at.seq,
    prev: b.toString('latin1', at.prevStart, at.prevStart + 64),
  }
}
