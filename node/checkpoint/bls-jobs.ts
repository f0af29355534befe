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
 * that carries gossip. Pure functions of their inputs and the node's keys; no I/O. Each job
 * carries the keys of the membership version it is about (a checkpoint is verified under the
 * version it names, and the version in force changes at a cut).
 */
export interface BlsSecret {
  /** This node's BLS secret key (identity.json); it signs only checkpoints. */
  secretKey: Uint8Array
}

/** The public keys of one membership version, as checkpoint jobs take them. */
export interface VersionKeys extends CheckpointKeys {
  /** Members' public keys in the membership version's order, proofs of possession checked. */
  blsKeys: readonly Uint8Array[]
  quorum: number
}

export type BlsJob =
  /** `secretKey`: the key of the version in force when the node rotated its BLS key. */
  | { op: 'sign'; checkpoint: Checkpoint; secretKey?: Uint8Array }
  | {
      op: 'verify'
      keys: VersionKeys
      signer: number
      checkpoint: Checkpoint
      signature: Uint8Array
    }
  | {
      op: 'aggregate'
      keys: VersionKeys
      checkpoint: Checkpoint
      signatures: Array<[number, Uint8Array]>
    }
  | { op: 'verifyCosigned'; keys: VersionKeys; cosigned: CosignedCheckpoint }

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

export function runBlsJob(secret: BlsSecret, job: BlsJob): BlsResults[BlsJob['op']] {
  switch (job.op) {
    case 'sign':
      return blsSign(job.secretKey ?? secret.secretKey, checkpointSigningMessage(job.checkpoint))
    case 'verify': {
      const key = job.keys.blsKeys[job.signer]
      return !!key && blsVerify(key, checkpointSigningMessage(job.checkpoint), job.signature)
    }
    case 'aggregate':
      return aggregate(job.keys, job.checkpoint, new Map(job.signatures))
    case 'verifyCosigned':
      return verifyCosignedCheckpoint(job.cosigned, job.keys)
  }
}

/**
 * Aggregates and verifies in one step; if the aggregate fails, drops the signatures that fail
 * alone and aggregates the rest (undefined when fewer than a quorum remain).
 */
function aggregate(
  keys: VersionKeys,
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
