import { type CosignedCheckpoint, cosignedToJson, feedCutOf } from '../core/checkpoint.ts'
import {
  type ConsistencyAnswerJson,
  type ConsistencyProofJson,
  parseConsistencyFrom,
} from '../core/consistency-answer.ts'
import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import type { LogStore } from '../store/index.ts'

export interface ConsistencySource {
  store: Pick<LogStore, 'consistencyProof'>
  checkpoints: { latest(): CosignedCheckpoint | undefined }
}

/**
 * RFC 9162 consistency proofs (2.1.4.1) from the tree sizes in `from` (untrusted,
 * `origin:size,…`, see parseConsistencyFrom) to this node's latest cosigned checkpoint. Public
 * like the checkpoint: hashes only. The client decides what a missing or shrunk feed means.
 */
export async function answerConsistency(
  source: ConsistencySource,
  from: unknown,
): Promise<ConsistencyAnswerJson> {
  const sizes = parseConsistencyFrom(from)
  const latest = source.checkpoints.latest()
  if (!latest)
    throw new EhrlogError(
      'NOT_FOUND',
      'no cosigned checkpoint yet: the network has not completed a round',
    )
  const proofs: ConsistencyProofJson[] = []
  for (const [origin, fromSize] of sizes) {
    const cut = feedCutOf(latest.checkpoint, origin)
    if (!cut) continue
    let proof: Uint8Array[] = []
    if (fromSize > 0 && fromSize < cut.treeSize) {
      try {
        proof = await source.store.consistencyProof(origin, fromSize, cut.treeSize)
      } catch (cause) {
        // A node that has the checkpoint but not yet the entries it covers (catching up).
        throw new EhrlogError(
          'UNAVAILABLE',
          `this node does not hold ${origin} up to its latest checkpoint yet: retry, or ask another node`,
          { cause, details: { origin } },
        )
      }
    }
    proofs.push({ origin, fromSize, toSize: cut.treeSize, proof: proof.map(toHex) })
  }
  return { v: 1, cosigned: cosignedToJson(latest), proofs }
}
