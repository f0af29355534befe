import { type Command, Option } from 'commander'
import { completenessPatientOf } from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { printPage } from '../format/query-output.ts'
import { loadSession } from '../session-store.ts'
import {
  addQueryOptions,
  Connection,
  completenessVerdict,
  FORMATS,
  type Format,
  filterOf,
  keepNewestCheckpoint,
  type QueryFlags,
  readNewestCheckpoint,
  scopeOf,
  sessionTrust,
  type VerifiedPage,
} from '../verify/index.ts'

type QueryCommandFlags = QueryFlags & { format: Format; requireComplete?: boolean }

export function registerQuery(program: Command, ctx: CliContext): void {
  addQueryOptions(
    program
      .command('query')
      .description(
        "query the audit log with your saved session and verify the answer yourself: inclusion proofs, signed heads, the cosigned checkpoint, a cross-check for left-out entries, and for one patient's whole trail the completeness proof",
      ),
  )
    .addOption(new Option('--format <format>', 'output').choices(FORMATS).default('table'))
    .option(
      '--require-complete',
      "one patient's trail: fail unless the node proves it complete (default with --cross-check 0)",
    )
    .option(
      '--no-require-complete',
      "one patient's trail: accept an answer without a completeness proof",
    )
    .action(async (opts: QueryCommandFlags) => {
      const session = await loadSession(ctx)
      // The pinned genesis through the membership changes the node shows, each checked.
      const history = await sessionTrust(ctx, opts, session)
      const filter = filterOf(opts)
      const patientId =
        opts.cursor === undefined ? completenessPatientOf(filter, scopeOf(session)) : undefined
      // A patient's whole trail is asked page after page: past the node's per-user query rate
      // the CLI waits (the node says how long) rather than failing halfway.
      const connection = new Connection(
        history,
        session,
        opts.node,
        patientId === undefined
          ? undefined
          : { maxSeconds: 60, notify: (message) => ctx.err(`${message}\n`) },
      )
      try {
        if (patientId === undefined) {
          const page = await connection.verifiedPage(
            filter,
            opts.cursor,
            opts.limit,
            opts.crossCheck,
          )
          printPage(ctx, page, opts.format, history)
          if (page.failures.length > 0) ctx.exitCode = EXIT.verifyFailed
          return
        }
        // One patient's trail: every page, then the completeness proof over all of them.
        const pages: VerifiedPage[] = []
        let cursor: string | undefined
        // Each page asked is itself recorded in the patient's trail (a query record at the
        // answering node): pages of one entry would each add one and never reach the end.
        const perPage = opts.limit === 1 ? 2 : opts.limit
        do {
          const page = await connection.verifiedPage(filter, cursor, perPage, opts.crossCheck)
          pages.push(page)
          cursor = page.next
        } while (cursor !== undefined)
        const keys = history.current.keys
        const known = await readNewestCheckpoint(ctx, history)
        const verdict = completenessVerdict(keys, patientId, pages, known)
        const required = opts.requireComplete ?? opts.crossCheck === 0
        if (verdict.unproven && required)
          verdict.lines.push(
            'refused: completeness is required (--require-complete, the default with --cross-check 0)',
          )
        const last = pages[pages.length - 1]!
        const merged: VerifiedPage = {
          ...last,
          result: { ...last.result, verified: pages.flatMap((p) => p.result.verified) },
          failures: [...pages.flatMap((p) => p.failures), ...verdict.failures],
          crossChecked: [...new Set(pages.flatMap((p) => p.crossChecked))],
          notes: [...new Set(pages.flatMap((p) => p.notes))],
          completeness: verdict.lines,
        }
        if (pages.length > 1) merged.notes.push(`${pages.length} pages asked: the whole trail`)
        printPage(ctx, merged, opts.format, history)
        if (merged.failures.length > 0 || (verdict.unproven && required))
          ctx.exitCode = EXIT.verifyFailed
        // The newest checkpoint verified: an older one presented later is refused.
        const newest = pages
          .map((p) => p.result.checkpoint)
          .reduce(
            (a, c) => (c && (!a || c.checkpoint.timeMs > a.checkpoint.timeMs) ? c : a),
            undefined,
          )
        if (merged.failures.length === 0 && newest)
          await keepNewestCheckpoint(ctx, keys, newest, known)
      } finally {
        await connection.close()
      }
    })
}
