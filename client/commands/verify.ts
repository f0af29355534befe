import type { Command } from 'commander'
import { describeVerdict, verifyCheckpoint } from '../../node/core/trust/index.ts'
import { CheckpointLog, type KnownHead, type VerifyReport } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { withLocalNode } from '../local-node.ts'
import { startProgress } from '../progress.ts'
import { loadMembership } from '../verify/index.ts'

export function registerVerify(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description(
      "verify every entry, chain link, tree root and signature of a stopped node's replica",
    )
    .requiredOption('--dir <dir>', 'the node folder')
    .option('--json', 'print the full report as JSON')
    .addHelpText(
      'after',
      `\nExit status: ${EXIT.ok} when intact, ${EXIT.verifyFailed} when any entry is damaged (each is listed).`,
    )
    .action(async (opts: { dir: string; json?: boolean }) => {
      const { report, against } = await withLocalNode(ctx, opts.dir, async ({ store }) => {
        // The latest cosigned checkpoint, if it verifies, also catches a cut tail whose
        // signed heads were rolled back with it.
        const checkpoint = await new CheckpointLog(store).latest()
        let against: string | undefined
        const knownHeads = new Map<string, KnownHead>()
        if (checkpoint) {
          const membership = await loadMembership({ dir: opts.dir })
          against = describeVerdict(verifyCheckpoint(membership, checkpoint))
          for (const f of checkpoint.checkpoint.feeds)
            if (f.treeSize > 0) knownHeads.set(f.origin, f)
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

export function describeReport(report: VerifyReport): string {
  const feeds = report.feeds
    .map((f) => `  ${f.origin}: ${f.entries} entries, signed up to ${f.signedSize}`)
    .join('\n')
  if (report.ok)
    return `intact: ${report.entriesChecked} entries in ${report.feeds.length} feeds verified\n${feeds}\n`
  const lines = report.problems.map(
    (p) =>
      `  ${p.kind.padEnd(14)} ${p.entryId ?? `${p.origin} tree size ${p.treeSize ?? '?'}`}  ${p.message}`,
  )
  const omitted = report.problemsOmitted > 0 ? `\n  … and ${report.problemsOmitted} more` : ''
  const ids = report.problems.flatMap((p) => (p.entryId ? [p.entryId] : []))
  return `DAMAGED: ${report.problems.length + report.problemsOmitted} problems in ${report.entriesChecked} entries\n${lines.join('\n')}${omitted}\nCompromised log ids: ${ids.join(', ') || '(none; see the heads above)'}\n${feeds}\n`
}
