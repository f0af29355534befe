import { decodeEntry, entryId } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { bytesEqual, fromHex, toHex } from '../core/hex.ts'
import { ORIGIN_PATTERN } from '../core/layout.ts'
import { hashLeaf, verifyConsistency, verifyInclusion } from '../core/merkle/index.ts'
import { type SignedTreeHead, verifyTreeHead } from '../core/tree-head.ts'

/**
 * An entry's leaf hash with its inclusion proof into a head the origin signed, and the
 * entry's bytes where they are carried. The hash and proof are the proof; the bytes (patient
 * data) travel between nodes, never in an alert (evidenceToJson's `entries: false`).
 */
export interface SignedEntry {
  bytes?: Uint8Array
  leafHash: Uint8Array
  proof: Uint8Array[]
  head: SignedTreeHead
}

/**
 * Proof that an origin signed two histories, checkable by anyone with its Ed25519 key:
 * - entries: two different entries for one seq, each included in a head the origin signed;
 * - heads: a head at `treeSize` (a), and a later head (b) whose tree, by an RFC 9162
 *   consistency proof, had another root (`bRoot`) at that same size.
 */
export type EquivocationEvidence =
  | { type: 'entries'; origin: string; seq: number; a: SignedEntry; b: SignedEntry }
  | {
      type: 'heads'
      origin: string
      treeSize: number
      a: SignedTreeHead
      b: SignedTreeHead
      bRoot: Uint8Array
      consistency: Uint8Array[]
    }

/** The same on every node that sees this equivocation: alerts deduplicate on it. */
export function equivocationKey(evidence: EquivocationEvidence): string {
  return evidence.type === 'entries'
    ? entryId(evidence.origin, evidence.seq)
    : `${evidence.origin}:size-${evidence.treeSize}`
}

/**
 * Checks evidence against the origin's key; throws INVALID_SIGNATURE, INVALID_PROOF or
 * MESSAGE_INVALID naming what does not hold. Needs nothing from this node's replica.
 */
export function verifyEquivocation(evidence: EquivocationEvidence, originKey: Uint8Array): void {
  const { origin } = evidence
  const heads =
    evidence.type === 'entries' ? [evidence.a.head, evidence.b.head] : [evidence.a, evidence.b]
  for (const head of heads) {
    if (head.origin !== origin)
      throw invalid(`a head of ${head.origin} in evidence about ${origin}`)
    verifyTreeHead(head, originKey)
  }
  if (evidence.type === 'entries') {
    const { seq, a, b } = evidence
    if (bytesEqual(a.leafHash, b.leafHash)) throw invalid('the two entries are the same')
    for (const side of [a, b]) {
      if (side.bytes) {
        const { entry, hash } = decodeEntry(side.bytes)
        if (entry.origin !== origin || entry.seq !== seq) {
          throw invalid(`entry ${entryId(entry.origin, entry.seq)} is not ${entryId(origin, seq)}`)
        }
        if (!bytesEqual(hash, side.leafHash)) throw invalid('an entry does not have its entryHash')
      }
      // Leaf seq-1 of a tree the origin signed: that is entry `seq` of its feed, whatever
      // the entry's bytes say.
      verifyInclusion(side.leafHash, seq - 1, side.head.treeSize, side.proof, side.head.root)
    }
    return
  }
  const { treeSize, a, b, bRoot, consistency } = evidence
  if (a.treeSize !== treeSize || b.treeSize < treeSize)
    throw invalid(`heads at ${a.treeSize} and ${b.treeSize} do not bracket size ${treeSize}`)
  verifyConsistency(treeSize, b.treeSize, bRoot, b.root, consistency)
  if (bytesEqual(bRoot, a.root)) throw invalid(`both heads give one root at size ${treeSize}`)
}

/**
 * Evidence as JSON: entries base64, hashes hex. `entries: false` leaves the entries' bytes
 * out (alerts: emails and their files must not carry patient data); the leaf hashes with
 * their inclusion proofs still prove the equivocation.
 */
export function evidenceToJson(
  evidence: EquivocationEvidence,
  opts: { entries: boolean } = { entries: true },
): Record<string, unknown> {
  const head = (h: SignedTreeHead) => ({
    treeSize: h.treeSize,
    root: toHex(h.root),
    signature: toHex(h.signature),
  })
  if (evidence.type === 'heads') {
    return {
      type: 'heads',
      origin: evidence.origin,
      treeSize: evidence.treeSize,
      a: head(evidence.a),
      b: head(evidence.b),
      bRoot: toHex(evidence.bRoot),
      consistency: evidence.consistency.map(toHex),
    }
  }
  const side = (s: SignedEntry) => ({
    ...(opts.entries && s.bytes ? { entry: Buffer.from(s.bytes).toString('base64') } : {}),
    ...(!opts.entries && s.bytes ? { entryWithoutPersonalData: withoutPersonalData(s.bytes) } : {}),
    entryHash: toHex(s.leafHash),
    leafIndex: evidence.seq - 1,
    inclusionProof: s.proof.map(toHex),
    head: head(s.head),
  })
  return {
    type: 'entries',
    origin: evidence.origin,
    seq: evidence.seq,
    a: side(evidence.a),
    b: side(evidence.b),
  }
}

/**
 * What an admin may read of an entry in an alert: its place, kind and times, and for an
 * audit event what was done to which kind of record, never who or whose (patient and actor
 * ids and names, record ids, free-text detail and notes stay out).
 */
export function withoutPersonalData(bytes: Uint8Array): Record<string, unknown> {
  const { entry } = decodeEntry(bytes)
  const view: Record<string, unknown> = {
    origin: entry.origin,
    seq: entry.seq,
    recorded: entry.recorded,
    prev: entry.prev,
    kind: entry.kind,
  }
  if (entry.kind === 'event') {
    const { action, resource, time, outcome } = entry.body as AuditEvent
    Object.assign(view, { action, resource, time, outcome })
  }
  return view
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeEvidence(evidence: EquivocationEvidence): Uint8Array {
  return utf8.encode(JSON.stringify({ v: 1, ...evidenceToJson(evidence) }))
}

/** Parses an untrusted evidence message (structure only: verify it after). MESSAGE_INVALID. */
export function decodeEvidence(data: Uint8Array): EquivocationEvidence {
  let v: Record<string, unknown>
  try {
    v = JSON.parse(utf8Decoder.decode(data)) as Record<string, unknown>
  } catch {
    throw invalid('not UTF-8 JSON')
  }
  if (typeof v !== 'object' || v === null || v.v !== 1) throw invalid('not version 1 evidence')
  const origin = v.origin
  if (typeof origin !== 'string' || !ORIGIN_PATTERN.test(origin))
    throw invalid('origin is not a node name')
  if (v.type === 'entries') {
    const seq = count(v.seq, 'seq')
    return { type: 'entries', origin, seq, a: side(v.a, origin, 'a'), b: side(v.b, origin, 'b') }
  }
  if (v.type === 'heads') {
    return {
      type: 'heads',
      origin,
      treeSize: count(v.treeSize, 'treeSize'),
      a: head(v.a, origin, 'a'),
      b: head(v.b, origin, 'b'),
      bRoot: hash(v.bRoot, 'bRoot'),
      consistency: hashes(v.consistency, 'consistency'),
    }
  }
  throw invalid(`unknown type ${JSON.stringify(v.type)}`)
}

function side(value: unknown, origin: string, field: string): SignedEntry {
  const s = (value ?? {}) as Record<string, unknown>
  const text = s.entry
  let bytes: Uint8Array | undefined
  if (text !== undefined) {
    // Base64 of at most 64 KiB of entry (LIMITS.maxEntryBytes); Buffer ignores junk, so re-encode.
    if (typeof text !== 'string' || text.length > 90_000)
      throw invalid(`${field}.entry is not base64`)
    bytes = new Uint8Array(Buffer.from(text, 'base64'))
    if (bytes.byteLength === 0 || Buffer.from(bytes).toString('base64') !== text)
      throw invalid(`${field}.entry is not base64`)
  }
  // Evidence from before entryHash was sent carries the entry only.
  const leafHash =
    s.entryHash === undefined && bytes ? hashLeaf(bytes) : hash(s.entryHash, `${field}.entryHash`)
  return {
    ...(bytes ? { bytes } : {}),
    leafHash,
    proof: hashes(s.inclusionProof, `${field}.inclusionProof`),
    head: head(s.head, origin, `${field}.head`),
  }
}

function head(value: unknown, origin: string, field: string): SignedTreeHead {
  const h = (value ?? {}) as Record<string, unknown>
  const signature = typeof h.signature === 'string' ? fromHex(h.signature, 64) : undefined
  if (!signature) throw invalid(`${field}.signature is not 64 bytes of hex`)
  const treeSize = count(h.treeSize, `${field}.treeSize`)
  return { origin, treeSize, root: hash(h.root, `${field}.root`), signature }
}

function hash(value: unknown, field: string): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value, 32) : undefined
  if (!bytes) throw invalid(`${field} is not 32 bytes of hex`)
  return bytes
}

function hashes(value: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(value) || value.length > 64) throw invalid(`${field} is not a list of hashes`)
  return value.map((v, i) => hash(v, `${field}.${i}`))
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw invalid(`${field} is not a positive integer`)
  return value
}

function invalid(message: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `equivocation evidence: ${message}`)
}
