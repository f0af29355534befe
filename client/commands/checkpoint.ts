import type { Command } from 'commander'
import {
  type CosignedCheckpoint,
  type CosignedCheckpointJson,
  cosignedFromJson,
  cosignedToJson,
} from '../../node/core/checkpoint.ts'
import type { ConsistencyVerdict } from '../../node/core/consistency-answer.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import {
  type CheckpointVerdict,
  describeVerdict,
  verifyCheckpoint,
} from '../../node/core/trust/index.ts'
import { CheckpointLog } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { renderTable } from '../format/text-table.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode, findEndpoint } from '../node-client.ts'
import { checkSince, describeConsistency, readKeptCheckpoint } from '../verify/checkpoint-since.ts'
import { explainUnknown, followedTrust } from '../verify/index.ts'

interface CheckpointOptions {
  node?: string
  dir?: string
  network?: string
  run?: boolean
  json?: boolean
  token?: string
  since?: string
}

export function registerCheckpoint(program: Command, ctx: CliContext): void {
  program
    .command('checkpoint')
    .description('show the latest cosigned checkpoint and verify its aggregate signature yourself')
    .option('--node <url>', 'ask a running node')
    .option('--dir <dir>', 'a node folder (its running node, or offline)')
    .option('--network <file>', 'your copy of network.json (default: the --dir one)')
    .option('--run', 'ask the node to run a checkpoint round now (API token)')
    .option(
      '--token <token>',
      'API token for --run (default: EHRLOG_API_TOKEN or the --dir config)',
    )
    .option(
      '--since <file>',
      'a checkpoint you kept (`checkpoint --json` output): prove the latest extends it, per feed',
    )
    .option('--json', 'print JSON')
    .action(async (opts: CheckpointOptions) => {
      // Your genesis through the membership changes the node (or the folder) shows, each checked.
      const endpoint = await findEndpoint(opts, ctx.env)
      const source = endpoint ? { endpoint } : { dir: opts.dir! }
      const membership = await followedTrust(ctx, opts, source)
      const kept = opts.since ? await readKeptCheckpoint(opts.since, membership) : undefined
      // With --since the latest checkpoint comes with the proofs (after a round, with --run).
      let cosigned = kept && !opts.run ? undefined : await fetchCheckpoint(ctx, opts)
      let consistency: ConsistencyVerdict | undefined
      if (kept) {
        consistency = await checkSince(ctx, kept, membership, source)
        cosigned = consistency.latest
      }
      if (!cosigned) throw new EhrlogError('NOT_FOUND', 'no cosigned checkpoint')
      let verdict: CheckpointVerdict
      try {
        verdict = verifyCheckpoint(membership, cosigned)
      } catch (err) {
        throw explainUnknown(err, cosigned.checkpoint.membership, endpoint?.url ?? opts.dir!)
      }
      if (opts.json) {
        ctx.out(
          `${JSON.stringify({ verified: true, ...verdict, cosigned: cosignedToJson(cosigned), ...(consistency ? { since: consistency.origins } : {}) }, null, 2)}\n`,
        )
        return
      }
      ctx.out(`${describeVerdict(verdict)}\n`)
      if (kept && consistency) ctx.out(`${describeConsistency(kept, consistency)}\n`)
      ctx.out(
        renderTable(
          ['FEED', 'TREE SIZE', 'ROOT'],
          cosigned.checkpoint.feeds.map((f) => [f.origin, String(f.treeSize), toHex(f.root)]),
        ),
      )
    })
}

async function fetchCheckpoint(
  ctx: CliContext,
  opts: CheckpointOptions,
): Promise<CosignedCheckpoint> {
  const endpoint = await findEndpoint(opts, ctx.env)
  if (endpoint) {
    const answer = opts.run
      ? await callNode<{ cosigned: CosignedCheckpointJson }>(
          endpoint,
          'POST',
          '/api/v1/checkpoint',
          {},
        )
      : await callNode<{ cosigned: CosignedCheckpointJson }>(endpoint, 'GET', '/api/v1/checkpoint')
    return cosignedFromJson(answer.cosigned)
  }
  if (opts.run)
    throw new EhrlogError(
      'UNAVAILABLE',
      'a round needs the running network: start the node, or give --node URL',
    )
  const latest = await withLocalNode(ctx, opts.dir!, ({ store }) =>
    new CheckpointLog(store).latest(),
  )
  if (!latest) throw new EhrlogError('NOT_FOUND', 'this node holds no cosigned checkpoint yet')
  return latest
}
