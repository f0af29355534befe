import type { Checkpoint } from '../core/checkpoint.ts'
import type { CompletenessProof } from '../core/index/completeness.ts'

/** What the node needs of the per-patient index (issue 15's contract between its parts). */
export interface IndexView {
  /** Index root of `origin` at `treeSize` (≤ entries the store holds). Waits for VRF outputs it needs. */
  rootAt(origin: string, treeSize: number): Promise<Uint8Array>
  /** The cosigned checkpoint `c` is the newest: keep proofs at its cut (returns once state is there). */
  commit(c: Checkpoint): Promise<void>
  /** Completeness proof for `patientId` at the cut of `c` (must be the committed checkpoint). */
  prove(patientId: string, c: Checkpoint): Promise<CompletenessProof>
  /** Recompute from the store and compare (scrub); damaged → rebuilt, returns the origins that differed. */
  check(): Promise<{ origin: string; treeSize: number }[]>
}
