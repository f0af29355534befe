import type { CosignedCheckpoint } from '../checkpoint.ts'
import type { EncodedEntry } from '../entry.ts'
import type { Position } from './cursor.ts'

/* What verifyQueryAnswer finds: the entries that verified, and a named failure for each other. */

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
