import { z } from 'zod'
import { parseEntryId } from './entry.ts'
import { isIJsonText } from './event.ts'
import { ORIGIN_PATTERN } from './layout.ts'

// The format of an `alert` entry's body, as replicated to every node: here in core because
// the store validates every body it accepts (node/alerts renders and sends the emails).

/** Incident kinds, in the order docs/alerts.md lists them. */
export const INCIDENT_KINDS = [
  'modified',
  'deleted',
  'diverged',
  'index-diverged',
  'equivocation',
  'invalid-checkpoint',
  'quorum-degraded',
  'quorum-recovered',
  'rotated-out-key',
] as const

export const ALERT_BODY_LIMITS = {
  /** Entry ids recorded per alert; `entryCount` tells how many the incident named. */
  entryIds: 100,
  summaryLength: 500,
} as const

const CONTROL = /[\u0000-\u001f\u007f]/

const entryIdText = z
  .string()
  .refine((id) => /:[1-9][0-9]*$/.test(id) && parseEntryId(id) !== undefined, {
    message: 'want an entry id like hospital-a:42',
  })

const seq = z.number().int().min(1)

/**
 * Body of an `alert` entry: which incident, where, when; entry ids and hashes only, never
 * patient data (the evidence stays in the email). Strict and transform-free, so a body that
 * parses is already in normal form.
 */
export const alertBodySchema = z
  .strictObject({
    /** incidentId(): SHA-256 hex, the same on every node that sees the incident. */
    incidentId: z.string().regex(/^[0-9a-f]{64}$/, 'want 64 lower-case hex characters'),
    kind: z.enum(INCIDENT_KINDS),
    origin: z.string().regex(ORIGIN_PATTERN, 'want a node name like hospital-a'),
    /** The first ALERT_BODY_LIMITS.entryIds ids, sorted by origin and seq. */
    entryIds: z.array(entryIdText).max(ALERT_BODY_LIMITS.entryIds),
    /** How many entry ids the incident named (more than entryIds holds when capped). */
    entryCount: z.number().int().min(0),
    seqFrom: seq.optional(),
    seqTo: seq.optional(),
    detectedAt: z.iso.datetime({ precision: 3 }),
    summary: z
      .string()
      .min(1)
      .max(ALERT_BODY_LIMITS.summaryLength)
      .refine((s) => !CONTROL.test(s), 'must not contain control characters')
      .refine(
        isIJsonText,
        'must not contain lone surrogates or Unicode noncharacters (I-JSON, RFC 7493 §2.1)',
      ),
    /** The peer this node restored the authentic entries from, when it did. */
    repairedFrom: z.string().regex(ORIGIN_PATTERN, 'want a node name like hospital-a').optional(),
  })
  .refine((b) => b.entryCount >= b.entryIds.length, {
    message: 'entryCount is less than the entry ids listed',
    path: ['entryCount'],
  })
  .refine((b) => b.seqFrom === undefined || b.seqTo === undefined || b.seqFrom <= b.seqTo, {
    message: 'seqFrom is after seqTo',
    path: ['seqFrom'],
  })

export type AlertBody = z.output<typeof alertBodySchema>
