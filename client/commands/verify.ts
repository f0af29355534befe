import type { Command } from 'commander'
import { type CosignedCheckpointJson, cosignedFromJson } from '../../node/core/checkpoint.ts'
import { describeVerdict, verifyCheckpoint } from '../../node/core/trust/index.ts'
import { CheckpointLog, type KnownHead, type VerifyReport } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { plural } from '../format/plural.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode, findEndpoint, type NodeEndpoint } from '../node-client.ts'
import { startProgress } from '../progress.ts'
import { followedTrust } from '../verify/index.ts'

export function registerVerify(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description(
      "verify every entry, chain link, tree root and signature of a node's replica (a running node's through it)",
    )
    .requiredOption('--dir <dir>', 'the node folder')
    .option('--json', 'print the full report as JSON')
    .addHelpText(
      'after',
      `\nExit status: ${EXIT.ok} when intact, ${EXIT.verifyFailed} when any entry is damaged (each is listed).`,
    )
    .action(async (opts: { dir: string; json?: boolean; format?: string }) => {
      const endpoint = await findEndpoint({ dir: opts.dir }, ctx.env)
      const { report, against } = endpoint
        ? await verifyThroughNode(ctx, endpoint, opts.dir)
        : await verifyOffline(ctx, opts.dir)
      ctx.out(
        opts.json
          ? `${JSON.stringify({ ...report, checkpoint: against ?? null }, null, 2)}\n`
          : describeReport(report),
      )
      if (!opts.json)
        ctx.out(
          against
            ? `checked against the latest checkpoint, ${against}\n`
            : 'no cosigned checkpoint yet: checked against signed tree heads only\n',
        )
      ctx.exitCode = report.ok ? EXIT.ok : EXIT.verifyFailed
    })
}

/**
 * A running node holds the LevelDB lock: it verifies its own replica (POST /api/v1/verify,
 * with the API token from DIR/config.json) and this command checks the checkpoint it names.
 */
async function verifyThroughNode(
  ctx: CliContext,
  endpoint: NodeEndpoint,
  dir: string,
): Promise<{ report: VerifyReport; against: string | undefined }> {
  const answer = await callNode<{
    report: VerifyReport
    checkpoint: CosignedCheckpointJson | null
  }>(endpoint, 'POST', '/api/v1/verify', {})
  if (!answer.checkpoint) return { report: answer.report, against: undefined }
  const membership = await followedTrust(ctx, { dir }, { endpoint })
  const verdict = verifyCheckpoint(membership, cosignedFromJson(answer.checkpoint))
  return { report: answer.report, against: describeVerdict(verdict) }
}

async function verifyOffline(
  ctx: CliContext,
  dir: string,
): Promise<{ report: VerifyReport; against: string | undefined }> {
  return withLocalNode(ctx, dir, async ({ store }) => {
    // The latest cosigned checkpoint, if it verifies, also catches a cut tail whose
    // signed heads were rolled back with it.
    const checkpoint = await new CheckpointLog(store).latest()
    let against: string | undefined
    const knownHeads = new Map<string, KnownHead>()
    if (checkpoint) {
      const membership = await followedTrust(ctx, { dir }, { dir })
      against = describeVerdict(verifyCheckpoint(membership, checkpoint))
      for (const f of checkpoint.checkpoint.feeds) if (f.treeSize > 0) knownHeads.set(f.origin, f)
    }
    const total = [...store.sizes().values()].reduce((a, b) => a + b, 0)
    const progress = startProgress('verifying', total, ctx.progressStream)
    try {
      return {
        report: await store.verify({ knownHeads, onProgress: (n) => progress.update(n) }),
        against,
      }
    } finally {
      progress.stop()
    }
  })
}

export function describeReport(report: VerifyReport): string {
  const feeds = report.feeds
    .map((f) => `  ${f.origin}: ${plural(f.entries, 'entry')}, signed up to ${f.signedSize}`)
    .join('\n')
  if (report.ok)
    return `intact: ${plural(report.entriesChecked, 'entry')} in ${plural(report.feeds.length, 'feed')} verified\n${feeds}\n`
  const lines = report.problems.map(
    (p) =>
      `  ${p.kind.padEnd(14)} ${p.entryId ?? `${p.origin} tree size ${p.treeSize ?? '?'}`}  ${p.message}`,
  )
  const omitted = report.problemsOmitted > 0 ? `\n  … and ${report.problemsOmitted} more` : ''
  const ids = report.problems.flatMap((p) => (p.entryId ? [p.entryId] : []))
  return `DAMAGED: ${plural(report.problems.length + report.problemsOmitted, 'problem')} in ${plural(report.entriesChecked, 'entry')}\n${lines.join('\n')}${omitted}\nCompromised log ids: ${ids.join(', ') || '(none; see the heads above)'}\n${feeds}\n`
}
