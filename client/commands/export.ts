import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import {
  type CheckedPage,
  changesUpTo,
  completenessPatientOf,
} from '../../node/core/trust/index.ts'
import { toCount } from '../arguments.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { plural } from '../format/plural.ts'
import { verdictLines } from '../format/query-output.ts'
import { refuseToOverwrite } from '../output-file.ts'
import { loadSession } from '../session-store.ts'
import { manifestOf } from '../verify/bundle-checks.ts'
import { askBundlePassword, signAsAccount } from '../verify/bundle-signer.ts'
import {
  addQueryOptions,
  BUNDLE_FORMAT,
  type Bundle,
  Connection,
  completenessVerdict,
  filterOf,
  networkFileOf,
  type QueryFlags,
  readNewestCheckpoint,
  scopeOf,
  sessionTrust,
} from '../verify/index.ts'

/** export's flags: the query's, and where to write, how much, whether to sign. */
type ExportFlags = QueryFlags & {
  out: string
  max: number
  sign?: boolean
  passwordStdin?: boolean
  force?: boolean
}

export function registerExport(program: Command, ctx: CliContext): void {
  addQueryOptions(
    program
      .command('export')
      .description(
        'write a verified query answer, its proofs, the cosigned checkpoint and the membership to one file that `ehrlog verify-bundle` checks offline',
      ),
  )
    .requiredOption('--out <file>', 'the bundle file to write')
    .option('--force', 'overwrite --out if it exists')
    .option(
      '--max <n>',
      'follow next pages up to this many entries in all',
      toCount(1, 1_000_000),
      10_000,
    )
    .option('--sign', "sign the bundle with your account's key (asks for your password again)")
    .option('--password-stdin', 'with --sign: read the password from stdin (a pipe)')
    .action(async (opts: ExportFlags) => {
      await refuseToOverwrite(opts.out, opts.force)
      const session = await loadSession(ctx)
      // The pinned genesis through the membership changes the node shows, each checked.
      const history = await sessionTrust(ctx, opts, session)
      const membership = history.current
      const password = opts.sign
        ? await askBundlePassword(ctx, session, opts.passwordStdin === true)
        : undefined
      const filter = filterOf(opts)
      // An export asks page after page: past a node's per-user query rate it waits (the
      // node says how long) rather than failing halfway.
      const connection = new Connection(history, session, opts.node, {
        maxSeconds: 60,
        notify: (message) => ctx.err(`${message}\n`),
      })
      const answers: unknown[] = []
      const pages: CheckedPage[] = []
      let failures = 0
      let entries = 0
      let nextCursor: string | undefined
      try {
        let cursor = opts.cursor
        for (;;) {
          const page = await connection.verifiedPage(filter, cursor, opts.limit, opts.crossCheck)
          answers.push(page.answer)
          pages.push({ answer: page.answer, result: page.result })
          failures += page.failures.length
          entries += page.result.verified.length
          if (page.failures.length > 0) ctx.err(`${verdictLines(page, history).join('\n')}\n`)
          cursor = page.next
          nextCursor = cursor
          if (!cursor || entries >= opts.max) break
        }
      } finally {
        await connection.close()
      }
      // A next page left means the export stopped at --max, not at the end.
      const end = nextCursor === undefined ? 'complete' : 'max'
      // One patient's whole trail: its completeness proof travels in the answers; check it now.
      const patientId =
        opts.cursor === undefined && end === 'complete'
          ? completenessPatientOf(filter, scopeOf(session))
          : undefined
      const verdict =
        patientId === undefined
          ? undefined
          : completenessVerdict(
              membership.keys,
              patientId,
              pages,
              await readNewestCheckpoint(ctx, history),
            )
      for (const f of verdict?.failures ?? []) ctx.err(`FAILED: ${f.entryId}: ${f.reason}\n`)
      failures += verdict?.failures.length ?? 0
      const bundle: Bundle = {
        format: BUNDLE_FORMAT,
        createdAt: new Date().toISOString(),
        createdBy: session.username,
        filter,
        scope: scopeOf(session),
        ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
        // The very file the answers were verified against (the pinned genesis).
        network: JSON.parse(await readFile((await networkFileOf(ctx, opts))!, 'utf8')) as unknown,
        // The signed changes from genesis to the newest version the answers' checkpoints
        // name: verify-bundle follows them from the genesis it pins, offline.
        membership: changesUpTo(
          history,
          pages.flatMap((p) =>
            p.result.checkpoint ? [p.result.checkpoint.checkpoint.membership] : [],
          ),
        ),
        answers,
        end,
        max: opts.max,
      }
      if (password !== undefined)
        bundle.signedBy = await signAsAccount(
          session,
          manifestOf(bundle, membership.networkId, end, opts.max),
          password,
        )
      await writeFile(opts.out, `${JSON.stringify(bundle)}\n`, { flag: opts.force ? 'w' : 'wx' })
      ctx.out(
        `wrote ${opts.out}: ${plural(entries, 'entry')} in ${plural(answers.length, 'answer')}, with proofs, checkpoints and the membership\n`,
      )
      if (end === 'max')
        ctx.out(
          `incomplete: stopped at --max ${opts.max}; the rest follows --cursor ${nextCursor}\n`,
        )
      ctx.out(
        opts.sign ? `signed by ${session.username}\n` : 'not signed (--sign signs it as you)\n',
      )
      for (const line of verdict?.lines ?? []) ctx.out(`${line}\n`)
      if (failures > 0) {
        ctx.out(
          `FAILED: ${plural(failures, 'problem')}; the bundle keeps the answers as they came\n`,
        )
        ctx.exitCode = EXIT.verifyFailed
      } else
        ctx.out('verified before writing; check it anywhere with `ehrlog verify-bundle FILE`\n')
    })
}
