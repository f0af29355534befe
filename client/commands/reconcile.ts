import type { Command } from 'commander'
import { type ReconcileInput, reconcile } from '../../node/atna/index.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { isNormalEvent } from '../../node/core/event.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { plural } from '../format/plural.ts'
import { renderTable } from '../format/text-table.ts'
import { withLocalNode } from '../local-node.ts'

export function registerReconcile(program: Command, ctx: CliContext): void {
  program
    .command('reconcile')
    .description(
      'double recording: the exchanges one ATNA audit source recorded and the other did not, from a stopped replica (docs/atna.md)',
    )
    .requiredOption('--dir <dir>', 'a node folder (its node stopped)')
    .requiredOption('--between <a,b>', 'the two AuditSourceIDs that both record each exchange')
    .option('--json', 'print JSON')
    .action(async (opts: { dir: string; between: string; json?: boolean }) => {
      const sources = opts.between.split(',').map((s) => s.trim())
      if (sources.length !== 2 || sources.some((s) => s === '') || sources[0] === sources[1])
        throw new EhrlogError(
          'ARGUMENT_INVALID',
          `--between wants two different AuditSourceIDs separated by a comma, got ${JSON.stringify(opts.between)}`,
          { details: { field: '--between' } },
        )
      const [a, b] = sources as [string, string]
      const report = await withLocalNode(ctx, opts.dir, async ({ store }) => {
        const inputs: ReconcileInput[] = []
        // Stored events are in normal form (checked at append and at replication).
        for (const origin of store.origins())
          for await (const e of store.entries(origin))
            if (e.entry.kind === 'event' && isNormalEvent(e.entry.body))
              inputs.push({ id: `${origin}:${e.entry.seq}`, event: e.entry.body })
        return reconcile(inputs, a, b)
      })
      if (opts.json) {
        ctx.out(`${JSON.stringify(report, null, 2)}\n`)
      } else {
        if (report.unmatched.length > 0)
          ctx.out(
            renderTable(
              ['CORRELATION ID', 'TIME', 'RECORDED BY', 'SILENT', 'ENTRIES'],
              report.unmatched.map((u) => [
                u.correlationId,
                u.time,
                u.recordedBy,
                u.silent,
                u.entryIds.join(' '),
              ]),
            ),
          )
        ctx.out(
          `${plural(report.matched, 'exchange')} recorded by both, ${report.unmatched.length} by one side only; ${plural(report.uncorrelated, 'event')} without a correlation id not checked\n`,
        )
      }
      // Exit 3, as a failed verify, when a side was silent: a cron job can alert on it.
      ctx.exitCode = report.unmatched.length > 0 ? EXIT.verifyFailed : EXIT.ok
    })
}
