import { Command, CommanderError } from 'commander'
import { isEhrlogError } from '../node/core/errors.ts'
import { registerAppend } from './commands/append.ts'
import { registerBackup } from './commands/backup.ts'
import { registerCheckpoint } from './commands/checkpoint.ts'
import { registerExport } from './commands/export.ts'
import { registerFhir } from './commands/fhir.ts'
import { registerInit } from './commands/init.ts'
import { registerKeys } from './commands/keys.ts'
import { registerLog } from './commands/log.ts'
import { registerLogin } from './commands/login.ts'
import { registerLogout } from './commands/logout.ts'
import { registerNetwork } from './commands/network.ts'
import { registerNode } from './commands/node.ts'
import { registerProof } from './commands/proof.ts'
import { registerQuery } from './commands/query.ts'
import { registerReconcile } from './commands/reconcile.ts'
import { registerRegister } from './commands/register.ts'
import { registerStats } from './commands/stats.ts'
import { registerStatus } from './commands/status.ts'
import { registerUser } from './commands/user.ts'
import { registerVerify } from './commands/verify.ts'
import { registerVerifyBundle } from './commands/verify-bundle.ts'
import { registerWhoami } from './commands/whoami.ts'
import { type CliContext, processContext } from './context.ts'
import { EXIT, exitCodeOf, hintFor } from './exit-codes.ts'
import { acceptJsonBothWays } from './format/json-flag.ts'

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('ehrlog')
    .description('ehrlog: a decentralized, tamper-evident audit log for electronic health records')
    .version('0.1.0')
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput(outputOf(ctx))
    .exitOverride()
  registerInit(program, ctx)
  registerAppend(program, ctx)
  registerVerify(program, ctx)
  registerLog(program, ctx)
  registerNetwork(program, ctx)
  registerNode(program, ctx)
  registerBackup(program, ctx)
  registerStatus(program, ctx)
  registerCheckpoint(program, ctx)
  registerProof(program, ctx)
  registerQuery(program, ctx)
  registerReconcile(program, ctx)
  registerExport(program, ctx)
  registerVerifyBundle(program, ctx)
  registerFhir(program, ctx)
  registerRegister(program, ctx)
  registerLogin(program, ctx)
  registerLogout(program, ctx)
  registerWhoami(program, ctx)
  registerUser(program, ctx)
  registerStats(program, ctx)
  registerKeys(program, ctx)
  acceptJsonBothWays(program)
  for (const command of program.commands)
    for (const sub of [command, ...command.commands])
      sub.exitOverride().configureOutput(outputOf(ctx))
  return program
}

/**
 * Commander's own errors (unknown option, missing argument, bad value) in the same
 * `CODE: message` form as every other error: "error: unknown option '--x'" becomes
 * "ARGUMENT_INVALID: unknown option '--x'".
 */
function outputOf(ctx: CliContext) {
  return {
    writeOut: ctx.out,
    writeErr: ctx.err,
    outputError: (text: string, write: (text: string) => void) =>
      write(`ARGUMENT_INVALID: ${text.replace(/^error: /, '')}`),
  }
}

/** Runs the CLI and returns the process exit code; prints `code: message` and a hint on errors. */
export async function main(
  argv: readonly string[],
  ctx: CliContext = processContext(),
): Promise<number> {
  const program = buildProgram(ctx)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return ctx.exitCode ?? EXIT.ok
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end through here too, with exit code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    const debug = argv.includes('--debug')
    if (isEhrlogError(err)) {
      ctx.err(`${err.code}: ${err.message}\n`)
      // A membership chain a node (or file) showed and the client refused: not the admin's
      // "sign more" advice for the same codes.
      const hint =
        err.details.membershipSource !== undefined
          ? `the membership chain from ${String(err.details.membershipSource)} does not verify from your network.json: ask another member (--node URL) and tell the network's admins`
          : hintFor(err.code)
      if (hint) ctx.err(`hint: ${hint}\n`)
      if (debug) ctx.err(`${err.stack}\n`)
      return exitCodeOf(err.code)
    }
    ctx.err(`INTERNAL: ${err instanceof Error ? err.message : String(err)}\n`)
    ctx.err(
      debug
        ? `${(err as Error).stack}\n`
        : 'hint: run again with --debug for details, and report it\n',
    )
    return EXIT.internal
  }
}
