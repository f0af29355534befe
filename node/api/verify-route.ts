import type { FastifyInstance } from 'fastify'
import { cosignedToJson } from '../core/checkpoint.ts'
import { CheckpointLog, type KnownHead, type LogStore, type VerifyReport } from '../store/index.ts'
import type { BearerToken } from './bearer-auth.ts'

export const VERIFY_PATH = '/api/v1/verify'

export interface VerifyRouteOptions {
  store: LogStore
  token: BearerToken
}

/**
 * POST /api/v1/verify: `ehrlog verify` on a running node, whose LevelDB lock keeps a second
 * process out. The node runs the same check as the offline command (and as its own scrub,
 * which also runs while appends land) and answers the report with the latest cosigned
 * checkpoint, which the CLI verifies itself. The API token is asked for: whoever holds it can
 * read the node folder, and so could stop the node and verify offline. The report names
 * origins, seqs and entry ids only, no patient data. Requests during a run share its answer.
 */
export async function verifyRoute(scope: FastifyInstance, opts: VerifyRouteOptions): Promise<void> {
  let running: Promise<unknown> | undefined
  scope.post(VERIFY_PATH, async (request) => {
    opts.token.check(request.headers.authorization)
    running ??= verifyNow(opts.store).finally(() => {
      running = undefined
    })
    return running
  })
}

async function verifyNow(
  store: LogStore,
): Promise<{ report: VerifyReport; checkpoint: ReturnType<typeof cosignedToJson> | null }> {
  const checkpoint = await new CheckpointLog(store).latest()
  const knownHeads = new Map<string, KnownHead>()
  for (const f of checkpoint?.checkpoint.feeds ?? [])
    if (f.treeSize > 0) knownHeads.set(f.origin, f)
  const report = await store.verify({ knownHeads })
  return { report, checkpoint: checkpoint ? cosignedToJson(checkpoint) : null }
}
