import type { FastifyInstance } from 'fastify'
import { type CosignedCheckpoint, cosignedToJson, feedCutOf } from '../core/checkpoint.ts'
import { parseEntryId } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import type { LogStore } from '../store/index.ts'
import type { BearerToken } from './bearer-auth.ts'

export const CHECKPOINT_PATH = '/api/v1/checkpoint'
export const PROOF_PATH = '/api/v1/proof/:entryId'

export interface CheckpointSource {
  latest(): CosignedCheckpoint | undefined
  runRound(): Promise<CosignedCheckpoint>
}

export interface CheckpointRoutesOptions {
  checkpoints: CheckpointSource
  store: LogStore
  token: BearerToken
}

/**
 * - GET /api/v1/checkpoint: the latest cosigned checkpoint (public: sizes and roots only).
 *   Clients verify it themselves against their own copy of network.json.
 * - POST /api/v1/checkpoint: run a round now (API token).
 * - GET /api/v1/proof/:entryId: an entry, its inclusion proof in its origin's feed at the
 *   latest cosigned checkpoint, and that checkpoint (API token: the entry holds patient data).
 */
export async function checkpointRoutes(
  scope: FastifyInstance,
  opts: CheckpointRoutesOptions,
): Promise<void> {
  scope.get(CHECKPOINT_PATH, async () => {
    const latest = opts.checkpoints.latest()
    if (!latest)
      throw new EhrlogError(
        'NOT_FOUND',
        'no cosigned checkpoint yet: the network has not completed a round',
      )
    return { cosigned: cosignedToJson(latest) }
  })

  scope.post(CHECKPOINT_PATH, async (request, reply) => {
    opts.token.check(request.headers.authorization)
    const cosigned = await opts.checkpoints.runRound()
    reply.code(201)
    return { cosigned: cosignedToJson(cosigned) }
  })

  scope.get<{ Params: { entryId: string } }>(PROOF_PATH, async (request) => {
    opts.token.check(request.headers.authorization)
    const id = parseEntryId(request.params.entryId)
    if (!id) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `entry id ${JSON.stringify(request.params.entryId.slice(0, 80))} is not origin:seq`,
        { details: { field: 'entryId' } },
      )
    }
    const latest = opts.checkpoints.latest()
    const cut = latest && feedCutOf(latest.checkpoint, id.origin)
    if (!latest || !cut || cut.treeSize < id.seq) {
      throw new EhrlogError(
        'NOT_FOUND',
        `entry ${id.origin}:${id.seq} is not covered by a cosigned checkpoint yet: run \`ehrlog checkpoint --run\` or wait for the next round`,
        { details: { field: 'entryId' } },
      )
    }
    const entry = await opts.store.getEntry(id.origin, id.seq)
    if (!entry)
      throw new EhrlogError('NOT_FOUND', `this node holds no entry ${id.origin}:${id.seq}`)
    const proof = await opts.store.inclusionProof(id.origin, id.seq, cut.treeSize)
    return {
      entryId: `${id.origin}:${id.seq}`,
      bytes: Buffer.from(entry.bytes).toString('base64'),
      hash: toHex(entry.hash),
      treeSize: cut.treeSize,
      inclusionProof: proof.map(toHex),
      cosigned: cosignedToJson(latest),
    }
  })
}
