import type { FastifyInstance } from 'fastify'
import { type CosignedCheckpoint, cosignedToJson } from '../core/checkpoint.ts'
import { EhrlogError } from '../core/errors.ts'
import { answerConsistency } from '../query/index.ts'
import type { LogStore } from '../store/index.ts'
import type { BearerToken } from './bearer-auth.ts'

export const CHECKPOINT_PATH = '/api/v1/checkpoint'
export const CONSISTENCY_PATH = '/api/v1/checkpoint/consistency'

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
 * - GET /api/v1/checkpoint/consistency?from=origin:size,…: the latest cosigned checkpoint and
 *   RFC 9162 consistency proofs to it from the client's kept checkpoint (public: hashes only).
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

  scope.get<{ Querystring: Record<string, unknown> }>(CONSISTENCY_PATH, async (request) => {
    const { from, ...rest } = request.query ?? {}
    const unknown = Object.keys(rest)[0]
    if (unknown !== undefined)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `${unknown.slice(0, 40)} is not a parameter: want from`,
        {
          details: { field: unknown.slice(0, 40) },
        },
      )
    return answerConsistency({ store: opts.store, checkpoints: opts.checkpoints }, from)
  })
}
