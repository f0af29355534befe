import { type EhrlogError, isEhrlogError } from '../core/errors.ts'
import type { FeedBatch } from '../store/index.ts'

/**
 * The incident kind of a tree head signed by a key the membership retired (rotated out, or a
 * removed member's) on history newer than the cut that retired it: a compromised old key
 * signing new history. The batch was refused; the signed head is the evidence.
 */
export const ROTATED_OUT_KEY = 'rotated-out-key'

/** An integrity incident (incident.ts) of kind `rotated-out-key`, alerted like the others. */
export interface RetiredKeyIncident {
  kind: typeof ROTATED_OUT_KEY
  /** This node, which refused the head. */
  reportingNode: string
  /** The origin whose retired key signed. */
  origin: string
  /** One per origin, key and size: the same head relayed again is not a new incident. */
  key: string
  detectedAt: string
  seqFrom: number
  seqTo: number
  entryIds: string[]
  summary: string
  evidence: {
    origin: string
    treeSize: number
    /** The retired Ed25519 public key (hex) that verifies the head. */
    retiredKey: string
    /** The largest size it could still sign; the membership version that retired it. */
    retiredAfter: number
    version: number
    root: string
    signature: string
    relayedBy: string | undefined
  }
}

/** The incident for a batch the store refused as signed by a retired key; undefined otherwise. */
export function retiredKeyIncidentOf(
  err: unknown,
  batch: FeedBatch,
  self: string,
  relayedBy?: string,
  now: Date = new Date(),
): RetiredKeyIncident | undefined {
  if (!isEhrlogError(err, 'INVALID_SIGNATURE')) return undefined
  const d = (err as EhrlogError).details as Record<string, unknown> | undefined
  if (typeof d?.retiredKey !== 'string') return undefined
  const { origin, head } = batch
  const retiredAfter = Number(d.retiredAfter)
  const seqFrom = head.treeSize - batch.entries.length + 1
  return {
    kind: ROTATED_OUT_KEY,
    reportingNode: self,
    origin,
    key: `${origin}:${d.retiredKey}:${head.treeSize}`,
    detectedAt: now.toISOString(),
    seqFrom,
    seqTo: head.treeSize,
    entryIds: [],
    summary: `${self} refused a tree head of ${origin} at size ${head.treeSize} signed by ${origin}'s key ${d.retiredKey.slice(0, 16)}…, which membership version ${d.version} retired after size ${retiredAfter}: the old key is signing new history (compromised?)`,
    evidence: {
      origin,
      treeSize: head.treeSize,
      retiredKey: d.retiredKey,
      retiredAfter,
      version: Number(d.version),
      root: String(d.root),
      signature: String(d.signature),
      relayedBy,
    },
  }
}
