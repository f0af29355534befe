import type { CosignedCheckpointJson } from '../checkpoint.ts'
import type { QueryFilter } from './filter.ts'

/*
 * What a node answers for a query, on HTTP and libp2p alike (docs/query.md): the wire types.
 * Everything in them is untrusted until verifyQueryAnswer has checked it.
 */

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
  /**
   * For a query about exactly one patient, once a checkpoint exists: the proof that the
   * answer's entries up to the checkpoint's cut are every `event` entry about that patient
   * at every origin, and no other (docs/query.md, "Complete answers").
   */
  completeness?: CompletenessJson
  /** Set when there may be more: the answer is complete up to this entry id. */
  through?: string
  next?: string
}

/** A completeness proof on the wire. */
export interface CompletenessJson {
  /** The patient the proof is for: the client checks it is the one it asked about. */
  patientId: string
  /** base64 of encodeCompletenessProof (docs/format.md, "The per-patient index"), for the cut of the answer's checkpoint. */
  proof: string
}
