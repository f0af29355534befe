import { blsSign, blsVerify } from '../core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  type CheckpointKeys,
  type CosignedCheckpoint,
  checkpointSigningMessage,
  verifyCosignedCheckpoint,
} from '../core/checkpoint.ts'

/**
 * The BLS work of checkpoint rounds, as jobs a worker thread runs (bls-worker.ts): each is
 * 20–30 ms of @noble/curves on this machine kind (docs/performance.md), too long for the event loop
 * that carries gossip. Pure functions of their inputs and the node's keys; no I/O.
 */
export interface BlsKeys extends CheckpointKeys {
  /** This node's BLS secret key (identity.json); it signs only checkpoints. */
  secretKey: Uint8Array
  /** Members' public keys in the membership version's order, proofs of possession checked. */
  blsKeys: readonly Uint8Array[]
  quorum: number
}

export type BlsJob =
  | { op: 'sign'; checkpoint: Checkpoint }
  | { op: 'verify'; signer: number; checkpoint: Checkpoint; signature: Uint8Array }
  | { op: 'aggregate'; checkpoint: Checkpoint; signatures: Array<[number, Uint8Array]> }
  | { op: 'verifyCosigned'; cosigned: CosignedCheckpoint }

/** What each job answers. */
export interface BlsResults {
  sign: Uint8Array
  verify: boolean
  aggregate: AggregateResult | undefined
  verifyCosigned: number[]
}

export interface AggregateResult {
  cosigned: CosignedCheckpoint
  /** Signers left out because their signature failed on its own. */
  dropped: number[]
}

export function runBlsJob(keys: BlsKeys, job: BlsJob): BlsResults[BlsJob['op']] {
  switch (job.op) {
    case 'sign':
      return blsSign(keys.secretKey, checkpointSigningMessage(job.checkpoint))
    case 'verify': {
      const key = keys.blsKeys[job.signer]
      return !!key && blsVerify(key, checkpointSigningMessage(job.checkpoint), job.signature)
    }
    case 'aggregate':
      return aggregate(keys, job.checkpoint, new Map(job.signatures))
    case 'verifyCosigned':
      return verifyCosignedCheckpoint(job.cosigned, keys)
  }
}

/**
 * Aggregates and verifies in one step; if the aggregate fails, drops the signatures that fail
 * alone and aggregates the rest (undefined when fewer than a quorum remain).
 */
function aggregate(
  keys: BlsKeys,
  checkpoint: Checkpoint,
  signatures: Map<number, Uint8Array>,
): AggregateResult | undefined {
  const n = keys.blsKeys.length
  const dropped: number[] = []
  try {
    const cosigned = aggregateCosignatures(checkpoint, signatures, n)
    verifyCosignedCheckpoint(cosigned, keys)
    return { cosigned, dropped }
  } catch {
    const message = checkpointSigningMessage(checkpoint)
    for (const [i, sig] of signatures) {
      const key = keys.blsKeys[i]
      if (key && blsVerify(key, message, sig)) continue
      signatures.delete(i)
      dropped.push(i)
    }
    if (signatures.size < keys.quorum) return undefined
    return { cosigned: aggregateCosignatures(checkpoint, signatures, n), dropped }
  }
}
