import { type Command, Option } from 'commander'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { printPage } from '../format/query-output.ts'
import { loadSession } from '../session-store.ts'
import {
  addQueryOptions,
  Connection,
  FORMATS,
  type Format,
  filterOf,
  membershipOf,
  type QueryFlags,
} from '../verify/index.ts'

export function registerQuery(program: Command, ctx: CliContext): void {
  addQueryOptions(
    program
      .command('query')
      .description(
        'query the audit log with your saved session and verify the answer yourself: inclusion proofs, signed heads, the cosigned checkpoint, and a cross-check for left-out entries',
      ),
  )
    .addOption(new Option('--format <format>', 'output').choices(FORMATS).default('table'))
    .action(async (opts: QueryFlags & { format: Format }) => {
      const session = await loadSession(ctx)
      const membership = await membershipOf(ctx, opts)
      const filter = filterOf(opts)
      const connection = new Connection(membership, session, opts.node)
      try {
        const page = await connection.verifiedPage(filter, opts.cursor, opts.limit, opts.crossCheck)
        printPage(ctx, page, opts.format, membership)
        if (page.failures.length > 0) ctx.exitCode = EXIT.verifyFailed
      } finally {
        await connection.close()
      }
    })
}
