import { ed25519 } from '@noble/curves/ed25519.js'
import {
  type CosignedCheckpoint,
  type CosignedCheckpointJson,
  checkpointId,
  cosignedFromJson,
  type FeedCut,
  feedCutOf,
  verifyCosignedCheckpoint,
} from './checkpoint.ts'
import { decodeEntry, type EncodedEntry, entryId, parseEntryId } from './entry.ts'
import {
  bodyProblem,
  isKindFilter,
  KIND_FILTERS,
  type KindFilter,
  kindMismatch,
} from './entry-kinds.ts'
import { EhrlogError } from './errors.ts'
import { ACTIONS, type AuditEvent, auditEventSchema } from './event.ts'
import { bytesEqual, fromHex, toHex } from './hex.ts'
import { ORIGIN_PATTERN, treeHeadMessage } from './layout.ts'
import { verifyConsistency, verifyInclusion } from './merkle/index.ts'

/*
 * Verified queries (docs/query.md): the answer format a node sends for a query, and its
 * verification by the client against the client's own membership. Pure and without node:
 * imports: the patient's browser runs it too (tree-head signatures with @noble/curves).
 */

/** What a query selects; every field optional, all given fields must match. Times: event time. */
export interface QueryFilter {
  patient?: string
  actor?: string
  action?: string
  resource?: string
  /** ISO 8601 UTC, inclusive. */
  from?: string
  /** ISO 8601 UTC, exclusive. */
  to?: string
  origin?: string
  /** Entry kinds: `event` when absent (entry-kinds.ts). */
  kind?: KindFilter
}

/** What the session may see, enforced by the node and checked again by the client. */
export interface QueryScope {
  /** A patient session: only this patient's entries. */
  patientId?: string
}

export const QUERY_LIMITS = { defaultLimit: 100, maxLimit: 1000, textLength: 128 } as const
const FILTER_FIELDS = [
  'patient',
  'actor',
  'action',
  'resource',
  'from',
  'to',
  'origin',
  'kind',
] as const

function argument(field: string, message: string): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `${field} ${message}`, { details: { field } })
}

/**
 * Parses an untrusted filter (HTTP query string, libp2p request, CLI flags) into a QueryFilter:
 * unknown fields, empty or over-long text, control characters, an unknown action, a time
 * without a zone or from >= to are ARGUMENT_INVALID naming the field. Times are normalized
 * to UTC milliseconds like event times, so both sides compare the same strings.
 */
export function parseQueryFilter(input: unknown): QueryFilter {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw argument('filter', 'is not an object')
  const out: QueryFilter = {}
  for (const [field, value] of Object.entries(input)) {
    if (value === undefined) continue
    if (!(FILTER_FIELDS as readonly string[]).includes(field))
      throw argument(field, `is not a filter: want one of ${FILTER_FIELDS.join(', ')}`)
    if (typeof value !== 'string') throw argument(field, 'must be a string')
    const text = value.trim()
    if (text === '' || text.length > QUERY_LIMITS.textLength || /[\u0000-\u001f\u007f]/.test(text))
      throw argument(field, `must be 1 to ${QUERY_LIMITS.textLength} characters without controls`)
    const key = field as keyof QueryFilter
    if (key === 'action' && !(ACTIONS as readonly string[]).includes(text))
      throw argument(field, `must be one of ${ACTIONS.join(', ')}`)
    if (key === 'origin' && !ORIGIN_PATTERN.test(text)) throw argument(field, 'is not a node name')
    if (key === 'kind' && !isKindFilter(text))
      throw argument(field, `must be one of ${KIND_FILTERS.join(', ')}`)
    if (key === 'kind') out.kind = text as KindFilter
    else if (key === 'from' || key === 'to') {
      const time = auditEventSchema.shape.time.safeParse(text)
      if (!time.success) throw argument(field, time.error.issues[0]?.message ?? 'is not a time')
      out[key] = time.data
    } else out[key] = text
  }
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to)
    throw argument('to', `must be after from (${out.from})`)
  return out
}

/** Why `entry` is outside filter and scope, or undefined if it matches. */
export function filterMismatch(
  entry: EncodedEntry['entry'],
  filter: QueryFilter,
  scope: QueryScope = {},
): string | undefined {
  const kind = kindMismatch(entry, filter, scope)
  if (kind !== undefined || entry.kind !== 'event') return kind
  const e = entry.body as AuditEvent
  if (scope.patientId !== undefined && e.patientId !== scope.patientId)
    return "is about another patient than the session's"
  if (filter.patient !== undefined && e.patientId !== filter.patient)
    return 'has another patientId than the filter'
  if (filter.actor !== undefined && e.actorId !== filter.actor)
    return 'has another actorId than the filter'
  if (filter.action !== undefined && e.action !== filter.action)
    return `has action ${e.action}, the filter asks for ${filter.action}`
  if (filter.resource !== undefined && e.resource !== filter.resource)
    return 'has another resource than the filter'
  if (filter.origin !== undefined && entry.origin !== filter.origin)
    return `comes from ${entry.origin}, the filter asks for ${filter.origin}`
  if (filter.from !== undefined && e.time < filter.from) return `has time ${e.time} before from`
  if (filter.to !== undefined && e.time >= filter.to) return `has time ${e.time} not before to`
  return undefined
}

/** Answers are in (origin, seq) order; a position is where a page ends or the next begins. */
export interface Position {
  origin: string
  seq: number
}

export function comparePositions(a: Position, b: Position): number {
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq
}

/** The opaque cursor of the next page: base64url of the entry id it continues after. */
export function encodeCursor(after: Position): string {
  return btoa(entryId(after.origin, after.seq))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

export function decodeCursor(cursor: string): Position {
  let id: string | undefined
  try {
    if (/^[A-Za-z0-9_-]{1,200}$/.test(cursor))
      id = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'))
  } catch {}
  const position = id === undefined ? undefined : parseEntryId(id)
  if (!position) throw argument('cursor', 'is not a cursor this node gave out')
  return position
}

/** One entry of an answer: canonical bytes (base64) and an inclusion proof in `treeSize`. */
export interface AnswerEntryJson {
  bytes: string
  treeSize: number
  proof: string[]
}

/** An origin's signed tree head, with the consistency proof from the checkpoint's cut to it. */
export interface AnswerHeadJson {
  origin: string
  treeSize: number
  root: string
  signature: string
  consistency: string[]
}

/** What a node answers for a query, on HTTP and libp2p alike (docs/query.md). */
export interface QueryAnswerJson {
  v: 1
  /** The answering node (informational: nothing below depends on trusting it). */
  node: string
  /** The filter the node applied, after scope (informational). */
  filter: QueryFilter
  entries: AnswerEntryJson[]
  /** Heads proving entries past the checkpoint: "signed by the origin, not yet cosigned". */
  heads: AnswerHeadJson[]
  /** The node's latest cosigned checkpoint; null before the network's first round. */
  checkpoint: CosignedCheckpointJson | null
  /** Entries the node holds per origin: coverage for the cross-check. */
  held: Record<string, number>
  /** Set when there may be more: the answer is complete up to this entry id. */
  through?: string
  next?: string
}

export type Integrity = 'cosigned' | 'signed'

export interface VerifiedEntry {
  id: string
  entry: EncodedEntry
  /** cosigned: in the cut of a cosigned checkpoint; signed: under its origin's signed head only. */
  integrity: Integrity
}

export interface Failure {
  /** origin:seq, `checkpoint`, or `#i` for the i-th entry when its bytes do not decode. */
  entryId: string
  reason: string
  /** The entry as the node sent it, when it decodes: untrusted, for display only. */
  entry?: EncodedEntry
}

export interface QueryVerification {
  verified: VerifiedEntry[]
  failures: Failure[]
  /** Undefined when the answer has no checkpoint or it does not verify. */
  cosignedBy: { count: number; of: number; time: string; signers: number[] } | undefined
  checkpoint: CosignedCheckpoint | undefined
  /** Coverage for crossCheckAnswers: through and held as the answer states them. */
  through: Position | undefined
  held: ReadonlyMap<string, number>
}

export interface QueryTrust {
  networkId: Uint8Array
  /** Members' BLS keys in network.json order. */
  blsKeys: readonly Uint8Array[]
  /** Members' Ed25519 tree-head keys by name. */
  ed25519Keys: ReadonlyMap<string, Uint8Array>
  filter: QueryFilter
  scope?: QueryScope
  /** The cursor the client sent: every entry must come after it. */
  cursor?: string
  /**
   * Checkpoints already verified under these same keys (checkpoint id, signers, signature →
   * signer indexes): a BLS aggregate check costs ~27 ms, and the pages and cross-checks of
   * one query usually share a checkpoint. One map per membership; absent: no memo.
   */
  verifiedCheckpoints?: Map<string, number[]>
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function fromBase64(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string' || !BASE64.test(text)) return undefined
  const binary = atob(text)
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}

function hashes(list: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(list) || list.length > 64) return undefined
  const out: Uint8Array[] = []
  for (const h of list) {
    const bytes = typeof h === 'string' ? fromHex(h, 32) : undefined
    if (!bytes) return undefined
    out.push(bytes)
  }
  return out
}

interface CheckedHead {
  treeSize: number
  root: Uint8Array
  /** Why entries under it cannot be trusted, if so. */
  problem: string | undefined
  /** The head extends the cosigned cut (consistency proof verified). */
  extendsCut: boolean
}

/**
 * Verifies a query answer without trusting the node that sent it: the checkpoint's aggregate
 * signature (quorum of the members), each head's Ed25519 signature and its consistency with
 * the checkpoint, each entry's inclusion proof, order, filter and scope. Never throws for a
 * bad answer: each bad entry is a named failure. Entries at or below the checkpoint's cut
 * must be proven against the cut; above it, against a head that extends the cut.
 */
export function verifyQueryAnswer(answer: unknown, trust: QueryTrust): QueryVerification {
  const a = (
    typeof answer === 'object' && answer !== null ? answer : {}
  ) as Partial<QueryAnswerJson>
  const failures: Failure[] = []
  const verified: VerifiedEntry[] = []
  const { cosigned, cosignedBy, untrusted } = checkCheckpoint(a.checkpoint, trust, failures)
  const cutOf = (origin: string): FeedCut | undefined =>
    cosigned && feedCutOf(cosigned.checkpoint, origin)
  const heads = checkHeads(a.heads, trust, cutOf, failures)
  const context: EntryContext = {
    trust,
    heads,
    cutOf,
    untrusted,
    last: trust.cursor ? decodeCursor(trust.cursor) : undefined,
    through: a.through === undefined ? undefined : parseEntryId(String(a.through)),
  }
  if (!Array.isArray(a.entries)) failures.push({ entryId: 'answer', reason: 'has no entry list' })
  const entries: Partial<AnswerEntryJson>[] = Array.isArray(a.entries) ? a.entries : []
  entries.forEach((item, i) => {
    const outcome = checkEntry(item, i, context)
    if ('reason' in outcome) failures.push(outcome)
    else verified.push(outcome)
  })
  const { through } = context
  return { verified, failures, cosignedBy, checkpoint: cosigned, through, held: heldOf(a.held) }
}

interface EntryContext {
  trust: QueryTrust
  heads: ReadonlyMap<string, CheckedHead>
  cutOf: (origin: string) => FeedCut | undefined
  /** The answer had a checkpoint that does not verify. */
  untrusted: boolean
  /** The previous entry (or the cursor): entries must come in strictly increasing order. */
  last: Position | undefined
  through: Position | undefined
}

function checkEntry(
  item: Partial<AnswerEntryJson>,
  index: number,
  ctx: EntryContext,
): VerifiedEntry | Failure {
  const bytes = fromBase64(item?.bytes)
  let entry: EncodedEntry
  try {
    if (!bytes) throw new Error('bytes are not base64')
    entry = decodeEntry(bytes)
  } catch (err) {
    return { entryId: `#${index}`, reason: `entry does not decode: ${(err as Error).message}` }
  }
  const { origin, seq } = entry.entry
  const id = entryId(origin, seq)
  const fail = (reason: string): Failure => ({ entryId: id, reason, entry })
  const { last, through, trust } = ctx
  if (last && comparePositions(last, entry.entry) >= 0)
    return fail('is out of (origin, seq) order, repeated, or before the cursor')
  ctx.last = entry.entry
  if (through && comparePositions(entry.entry, through) > 0)
    return fail(`comes after the answer's own end ${entryId(through.origin, through.seq)}`)
  const mismatch = filterMismatch(entry.entry, trust.filter, trust.scope)
  if (mismatch) return fail(mismatch)
  const invalid = bodyProblem(entry.entry)
  if (invalid) return fail(invalid)
  if (!trust.ed25519Keys.has(origin)) return fail(`origin ${origin} is not a member`)
  const proof = hashes(item.proof)
  const treeSize = item.treeSize
  if (!proof || typeof treeSize !== 'number' || !Number.isSafeInteger(treeSize))
    return fail('proof is malformed')
  const cut = ctx.cutOf(origin)
  let root: Uint8Array
  let integrity: Integrity
  if (cut && treeSize === cut.treeSize) {
    root = cut.root
    integrity = 'cosigned'
  } else {
    const head = ctx.heads.get(`${origin}:${treeSize}`)
    if (!head) {
      const why = ctx.untrusted ? ' (the checkpoint in the answer does not verify)' : ''
      return fail(`no valid proof root: no signed head of ${origin} at tree size ${treeSize}${why}`)
    }
    if (head.problem) return fail(head.problem)
    root = head.root
    // A head that extends the cut proves the prefix too; one below the cut (a node behind
    // the checkpoint) is vouched for by its origin alone.
    integrity = head.extendsCut && cut && seq <= cut.treeSize ? 'cosigned' : 'signed'
  }
  try {
    verifyInclusion(entry.hash, seq - 1, treeSize, proof, root)
  } catch (err) {
    return fail((err as Error).message)
  }
  return { id, entry, integrity }
}

function checkCheckpoint(
  json: unknown,
  trust: QueryTrust,
  failures: Failure[],
): {
  cosigned: CosignedCheckpoint | undefined
  cosignedBy: QueryVerification['cosignedBy']
  untrusted: boolean
} {
  if (json === null || json === undefined)
    return { cosigned: undefined, cosignedBy: undefined, untrusted: false }
  try {
    const cosigned = cosignedFromJson(json)
    const memo = trust.verifiedCheckpoints
    const key = `${checkpointId(cosigned.checkpoint)}:${toHex(cosigned.signers)}:${toHex(cosigned.signature)}`
    let signers = memo?.get(key)
    if (!signers) {
      signers = verifyCosignedCheckpoint(cosigned, trust.networkId, trust.blsKeys)
      if (memo && memo.size < 64) memo.set(key, signers)
    }
    const time = new Date(cosigned.checkpoint.timeMs).toISOString()
    return {
      cosigned,
      cosignedBy: { count: signers.length, of: trust.blsKeys.length, time, signers },
      untrusted: false,
    }
  } catch (err) {
    failures.push({ entryId: 'checkpoint', reason: (err as Error).message })
    return { cosigned: undefined, cosignedBy: undefined, untrusted: true }
  }
}

function checkHeads(
  list: unknown,
  trust: QueryTrust,
  cutOf: (origin: string) => FeedCut | undefined,
  failures: Failure[],
): Map<string, CheckedHead> {
  const out = new Map<string, CheckedHead>()
  if (!Array.isArray(list)) return out
  for (const h of list as Partial<AnswerHeadJson>[]) {
    const origin = String(h?.origin)
    const treeSize = h?.treeSize
    const root = typeof h?.root === 'string' ? fromHex(h.root, 32) : undefined
    const signature = typeof h?.signature === 'string' ? fromHex(h.signature, 64) : undefined
    const consistency = hashes(h?.consistency)
    if (
      !ORIGIN_PATTERN.test(origin) ||
      !Number.isSafeInteger(treeSize) ||
      !root ||
      !signature ||
      !consistency
    ) {
      failures.push({ entryId: `head ${origin}`, reason: 'signed head is malformed' })
      continue
    }
    const key = trust.ed25519Keys.get(origin)
    const size = treeSize as number
    const checked: CheckedHead = { treeSize: size, root, problem: undefined, extendsCut: false }
    out.set(`${origin}:${size}`, checked)
    if (!key || !isHeadSignatureValid(origin, size, root, signature, key)) {
      checked.problem = `the head of ${origin} at tree size ${size} is not signed by ${origin}`
      continue
    }
    const cut = cutOf(origin)
    if (!cut || size < cut.treeSize) continue // no cut, or this node is behind it: signed only
    try {
      if (size === cut.treeSize && !bytesEqual(root, cut.root))
        throw new Error(`root differs from the checkpoint's at the same size ${size}`)
      verifyConsistency(cut.treeSize, size, cut.root, root, consistency)
      checked.extendsCut = true
    } catch (err) {
      checked.problem = `the head of ${origin} at ${size} does not extend the cosigned checkpoint (size ${cut.treeSize}): ${(err as Error).message}`
    }
  }
  return out
}

/** RFC 8032 verification (not ZIP-215), as node:crypto does it for tree heads elsewhere. */
function isHeadSignatureValid(
  origin: string,
  treeSize: number,
  root: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    return ed25519.verify(signature, treeHeadMessage(origin, treeSize, root), publicKey, {
      zip215: false,
    })
  } catch {
    return false
  }
}

function heldOf(value: unknown): Map<string, number> {
  const out = new Map<string, number>()
  if (typeof value !== 'object' || value === null) return out
  for (const [origin, size] of Object.entries(value))
    if (ORIGIN_PATTERN.test(origin) && Number.isSafeInteger(size)) out.set(origin, size as number)
  return out
}

/** A verified answer and who gave it, for crossCheckAnswers. */
export interface CheckedAnswer {
  node: string
  result: QueryVerification
}

/**
 * Omissions, which inclusion proofs cannot show: two verified answers to the same query must
 * hold the same entries wherever both are complete, that is for each origin up to the smaller
 * of both checkpoints' cuts and both nodes' holdings, and up to the earlier `through`. An entry
 * one node returned there and the other did not is a failure "dropped by" the other.
 */
export function crossCheckAnswers(a: CheckedAnswer, b: CheckedAnswer): Failure[] {
  const coverage = (origin: string): number => {
    const sizes = [a, b].flatMap(({ result }) => [
      result.checkpoint ? (feedCutOf(result.checkpoint.checkpoint, origin)?.treeSize ?? 0) : 0,
      result.held.get(origin) ?? 0,
    ])
    return Math.min(...sizes)
  }
  const ends = [a.result.through, b.result.through].filter((t): t is Position => t !== undefined)
  const end = ends.sort(comparePositions)[0]
  const covered = (e: Position) =>
    e.seq <= coverage(e.origin) && (end === undefined || comparePositions(e, end) <= 0)
  const failures: Failure[] = []
  const compare = (from: CheckedAnswer, to: CheckedAnswer) => {
    // An entry `to` sent but that failed verification is already reported as such.
    const has = new Set([
      ...to.result.verified.map((v) => v.id),
      ...to.result.failures.map((f) => f.entryId),
    ])
    for (const v of from.result.verified) {
      if (!has.has(v.id) && covered(v.entry.entry)) {
        failures.push({
          entryId: v.id,
          reason: `dropped by ${to.node}: ${from.node} returned it, and both nodes' cosigned checkpoints cover it`,
          entry: v.entry,
        })
      }
    }
  }
  compare(a, b)
  compare(b, a)
  return failures
}
