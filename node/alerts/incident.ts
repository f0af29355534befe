import { createHash } from 'node:crypto'
import {
  ALERT_BODY_LIMITS,
  type AlertBody,
  alertBodySchema,
  INCIDENT_KINDS,
} from '../core/alert-body.ts'
import { canonicalJson } from '../core/canonical-json.ts'
import { parseEntryId } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import { ORIGIN_PATTERN } from '../core/layout.ts'

/**
 * What an alert is about. `deleted` also covers a truncated feed (entries missing at the tail);
 * `diverged` is two replicas holding different roots for one origin and size; `index-diverged`
 * is a per-patient index root that the entries do not give (a proposal's, or this node's own
 * index found damaged by the scrub and rebuilt); `equivocation`
 * is one origin signing two different entries or roots for one seq or size; `rotated-out-key` is
 * a tree head signed by a key the membership retired (rotated out, or a removed member's),
 * past the cut that retired it: the head was refused, and whoever holds the old key signs.
 */
export { INCIDENT_KINDS }
export type IncidentKind = (typeof INCIDENT_KINDS)[number]

/** Kinds not named by their entries alone: the caller names the conflict with a `key`. */
export type KeyedIncidentKind =
  | 'diverged'
  | 'index-diverged'
  | 'equivocation'
  | 'invalid-checkpoint'
  | 'rotated-out-key'

interface IncidentFields {
  /** The node that saw it (and sends the email). */
  reportingNode: string
  /** The origin whose feed or checkpoint is affected. */
  origin: string
  seqFrom?: number
  seqTo?: number
  /** Entry ids (`origin:seq`) concerned; may be empty for head and checkpoint incidents. */
  entryIds: string[]
  /** ISO 8601 UTC, e.g. `2024-05-01T10:00:00.000Z`. */
  detectedAt: string
  /** One or two sentences for people. It is also recorded in the feed: no patient data. */
  summary: string
  /**
   * What proves it, attached to the email as evidence.json (not recorded in the feed):
   * hashes, roots, signed heads, the two conflicting heads. Uint8Array values become hex.
   */
  evidence: unknown
  /** Replaces the kind's standard advice when the caller knows better. */
  action?: string
  /**
   * Set when the replica verifies again: `from` the peer whose proven data restored it, or,
   * with `local`, this node itself, which only removed records no signed head covers
   * (`removed`, inserted by someone) and needed nothing from a peer.
   */
  repaired?: { from: string; entryIds: string[]; local?: boolean; removed?: string[] }
}

/**
 * An incident to alert admins about. `key` distinguishes incidents its entries do not: for
 * divergence, equivocation and invalid checkpoints it is required (e.g. tree size and the two
 * roots); for modified/deleted it is optional (e.g. the hash of the tampered value, so a second
 * tampering of an entry already reported is a new incident).
 */
export type Incident = IncidentFields &
  (
    | { kind: Exclude<IncidentKind, KeyedIncidentKind>; key?: string }
    | { kind: KeyedIncidentKind; key: string }
  )

/**
 * Domain separation of incident ids from every other SHA-256 in ehrlog. An incident id is a
 * deduplication key, not a security claim, but it is recorded in feeds, so it is versioned.
 */
export const INCIDENT_ID_TAG = 'ehrlog/alert-incident/v1'

/**
 * SHA-256 hex of TAG || 0x00 || RFC 8785 JSON of {kind, origin, sorted unique entryIds, key}.
 * Deterministic: the same incident seen at every scrub, or by two code paths, has one id.
 * Reporting node, time, summary, evidence and repair status are deliberately not part of it.
 */
export function incidentId(incident: Incident): string {
  const identity = {
    kind: incident.kind,
    origin: incident.origin,
    entryIds: [...new Set(incident.entryIds)].sort(),
    key: incident.key,
  }
  return createHash('sha256')
    .update(INCIDENT_ID_TAG)
    .update(Buffer.from([0]))
    .update(canonicalJson(identity))
    .digest('hex')
}

/** Entry ids without duplicates, by origin then numeric seq (`a:9` before `a:10`). */
export function sortEntryIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort((x, y) => {
    const a = parseEntryId(x)
    const b = parseEntryId(y)
    if (a && b) return a.origin === b.origin ? a.seq - b.seq : a.origin < b.origin ? -1 : 1
    return x < y ? -1 : x > y ? 1 : 0
  })
}

/**
 * The seq range to show: the caller's, else the span of the incident's entries of its origin;
 * undefined when neither tells (a checkpoint incident without entries).
 */
export function seqRangeOf(incident: Incident): { seqFrom: number; seqTo: number } | undefined {
  if (incident.seqFrom !== undefined || incident.seqTo !== undefined) {
    const seqFrom = incident.seqFrom ?? (incident.seqTo as number)
    return { seqFrom, seqTo: incident.seqTo ?? seqFrom }
  }
  let range: { seqFrom: number; seqTo: number } | undefined
  // A loop, not Math.min(...seqs): a mass deletion can name more ids than the stack holds.
  for (const id of incident.entryIds) {
    const parsed = parseEntryId(id)
    if (!parsed || parsed.origin !== incident.origin) continue
    range = range
      ? { seqFrom: Math.min(range.seqFrom, parsed.seq), seqTo: Math.max(range.seqTo, parsed.seq) }
      : { seqFrom: parsed.seq, seqTo: parsed.seq }
  }
  return range
}

/**
 * The incident as it is stored, sent and recorded: entry ids sorted and unique, detectedAt in
 * toISOString() form, summary on one line and I-JSON (a lone surrogate or a noncharacter, as
 * a peer's error text may carry, becomes U+FFFD). Throws ARGUMENT_INVALID for what cannot be fixed
 * (an unknown kind, a time that is not a date, a body the feed would refuse), before anything
 * is written.
 */
export function normalizeIncident(incident: Incident): Incident {
  const time = Date.parse(incident.detectedAt)
  if (Number.isNaN(time)) {
    throw argumentInvalid(
      'detectedAt',
      `detectedAt ${JSON.stringify(incident.detectedAt)} is not an ISO 8601 time`,
    )
  }
  if (!ORIGIN_PATTERN.test(incident.reportingNode)) {
    throw argumentInvalid(
      'reportingNode',
      `reportingNode ${JSON.stringify(incident.reportingNode)} is not a node name`,
    )
  }
  const normalized: Incident = {
    ...incident,
    entryIds: sortEntryIds(incident.entryIds),
    detectedAt: new Date(time).toISOString(),
    summary: incident.summary
      .replace(/[\u0000-\u001f\u007f\s]+/g, ' ')
      .replace(/[\p{Surrogate}\p{Noncharacter_Code_Point}]/gu, '\uFFFD')
      .trim(),
  }
  alertBodyOf(normalized, '0'.repeat(64))
  return normalized
}

/**
 * The body of the `alert` entry recorded in the reporting node's own feed: ids, range, time
 * and summary, never the evidence. Throws ARGUMENT_INVALID naming the field that fails
 * alertBodySchema.
 */
export function alertBodyOf(incident: Incident, id: string): AlertBody {
  const range = seqRangeOf(incident)
  const summary =
    incident.summary.length > ALERT_BODY_LIMITS.summaryLength
      ? `${cutBeforeLoneSurrogate(incident.summary.slice(0, ALERT_BODY_LIMITS.summaryLength - 1))}\u2026`
      : incident.summary
  const candidate = {
    incidentId: id,
    kind: incident.kind,
    origin: incident.origin,
    entryIds: sortEntryIds(incident.entryIds).slice(0, ALERT_BODY_LIMITS.entryIds),
    entryCount: new Set(incident.entryIds).size,
    ...(range ?? {}),
    detectedAt: incident.detectedAt,
    summary,
    ...(incident.repaired ? { repairedFrom: incident.repaired.from } : {}),
  }
  const parsed = alertBodySchema.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue?.path.map(String).join('.') ?? ''
    throw argumentInvalid(field, `incident ${field || '(root)'}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}

/** `text` without a high surrogate at its end: a cut through a pair leaves a lone half (I-JSON). */
function cutBeforeLoneSurrogate(text: string): string {
  return /[\uD800-\uDBFF]$/.test(text) ? text.slice(0, -1) : text
}

function argumentInvalid(field: string, message: string): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', message, { details: { field } })
}
