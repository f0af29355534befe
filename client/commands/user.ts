import type { Command } from 'commander'
import { z } from 'zod'
import { AUTH_PATHS } from '../../node/api/index.ts'
import { UserDirectory, type UserState } from '../../node/auth/index.ts'
import { DEFAULT_KDF, deriveLoginKey, newKdfParams } from '../../node/core/auth/password-key.ts'
import { homeOf, type UserRecord } from '../../node/core/auth/user-record.ts'
import { verifyEntryBody } from '../../node/core/body.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import { readRuntimeInfo } from '../../node/identity/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import { accountEndpoint, checkUsernameArgument, parseAnswer } from '../account.ts'
import type { CliContext } from '../context.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode } from '../node-client.ts'
import { assertNewPassword, readPassword } from '../password-prompt.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'

const userAnswerSchema = z.object({ username: z.string(), status: z.string() })
const unlockAnswerSchema = z.object({ username: z.string(), cleared: z.boolean() })
const bindAnswerSchema = z.object({ username: z.string(), patientId: z.string() })
const enrollAnswerSchema = z.object({
  code: z.string().min(1),
  patientId: z.string(),
  expiresMs: z.number(),
})

export function registerUser(program: Command, ctx: CliContext): void {
  const user = program.command('user').description("manage a hospital's accounts (admins)")
  user
    .command('create')
    .description(
      "create an admin account offline on a stopped node's folder: the node's first admin is active at once, later ones wait for an admin's approval",
    )
    .requiredOption('--dir <dir>', 'the node folder (the node must be stopped)')
    .requiredOption('--username <name@node>', 'e.g. admin@hospital-a (its node must be --dir)')
    .requiredOption('--name <name>', "the admin's name")
    .option('--password-stdin', 'read the password from stdin (a pipe) instead of asking')
    .action(
      async (opts: { dir: string; username: string; name: string; passwordStdin?: boolean }) => {
        const username = checkUsernameArgument(opts.username)
        if (await readRuntimeInfo(opts.dir))
          throw new EhrlogError(
            'STORE_LOCKED',
            `the node in ${opts.dir} is running: stop it first (user create writes its folder directly)`,
          )
        const password = await readPassword(ctx, {
          prompt: `new password for ${username}: `,
          fromStdin: opts.passwordStdin === true,
          confirm: true,
        })
        assertNewPassword(password)
        const created = await createAdminOffline(ctx, opts.dir, {
          username,
          name: opts.name,
          password,
        })
        ctx.out(`created ${created.username} (admin, ${created.status})\n`)
        if (created.status === 'pending')
          ctx.out(
            `pending: ${homeOf(username)} already has an admin; one of them must approve it (ehrlog user approve ${username})\n`,
          )
      },
    )

  const sessionOption = '--node <url>'
  const sessionHelp = 'send to this node instead of the one that issued your session'
  user
    .command('approve')
    .description('approve a pending auditor or admin of your node (admin session)')
    .argument('<username>', 'e.g. audit@hospital-a')
    .option(sessionOption, sessionHelp)
    .action(async (username: string, opts: { node?: string }) => {
      const answer = await withSession(ctx, opts, AUTH_PATHS.approve, {
        username: checkUsernameArgument(username),
      })
      const { status } = parseAnswer(userAnswerSchema, answer, 'approve')
      ctx.out(`approved ${username}: ${status}\n`)
    })
  user
    .command('revoke')
    .description('revoke an account of your node: it cannot log in, its sessions end everywhere')
    .argument('<username>', 'e.g. anish@hospital-c')
    .option(sessionOption, sessionHelp)
    .action(async (username: string, opts: { node?: string }) => {
      const answer = await withSession(ctx, opts, AUTH_PATHS.revoke, {
        username: checkUsernameArgument(username),
      })
      const { status } = parseAnswer(userAnswerSchema, answer, 'revoke')
      ctx.out(`revoked ${username}: ${status}\n`)
    })
  user
    .command('unlock')
    .description(
      'clear the failed-login limits of an account of your node (after checking with its user that it was them)',
    )
    .argument('<username>', 'e.g. anish@hospital-c')
    .option(sessionOption, sessionHelp)
    .action(async (username: string, opts: { node?: string }) => {
      const answer = await withSession(ctx, opts, AUTH_PATHS.unlock, {
        username: checkUsernameArgument(username),
      })
      const { cleared } = parseAnswer(unlockAnswerSchema, answer, 'unlock')
      ctx.out(
        cleared
          ? `unlocked ${username}: its failed sign-ins no longer count\n`
          : `${username} had no failed sign-ins to clear\n`,
      )
    })
  user
    .command('enroll')
    .description(
      'a one-time enrollment code that binds the patient account registered with it to a patient id',
    )
    .requiredOption('--patient-id <id>', "the patient's id in the EHR (USER_ID)")
    .option(sessionOption, sessionHelp)
    .option('--json', 'print JSON')
    .action(async (opts: { patientId: string; node?: string; json?: boolean }) => {
      const answer = parseAnswer(
        enrollAnswerSchema,
        await withSession(ctx, opts, AUTH_PATHS.enroll, { patientId: opts.patientId }),
        'enroll',
      )
      if (opts.json) {
        ctx.out(`${JSON.stringify(answer)}\n`)
        return
      }
      ctx.out(
        `enrollment code for patient id ${answer.patientId}: ${answer.code}\n(one use, valid until ${new Date(answer.expiresMs).toISOString()}; give it to the patient only)\n`,
      )
    })
  user
    .command('bind')
    .description(
      'bind your own patient account to your patient id with the enrollment code from your hospital (for a patient who registered without one)',
    )
    .requiredOption('--code <code>', "the enrollment code from your hospital's admin")
    .option(sessionOption, sessionHelp)
    .action(async (opts: { code: string; node?: string }) => {
      // The same request as an admin's, with the patient's own session: the node checks who.
      const answer = await withSession(ctx, opts, AUTH_PATHS.bind, { enrollmentCode: opts.code })
      const { username, patientId } = parseAnswer(bindAnswerSchema, answer, 'bind')
      ctx.out(`bound ${username} to patient id ${patientId}\n`)
    })
}

/** POSTs `body` to `path` with the saved session, at `--node` or the node that issued it. */
async function withSession(
  ctx: CliContext,
  opts: { node?: string },
  path: string,
  body: unknown,
): Promise<unknown> {
  const session = await loadSession(ctx)
  const endpoint = await accountEndpoint({ node: opts.node ?? session.node })
  return callNode(endpoint, 'POST', path, body, sessionHeaders(session))
}

/**
 * Appends an admin account to the node's own feed on a stopped node's folder: the register
 * record and the bootstrap approval (AuthService.bootstrapAdmin's records), the approval only
 * when the directory would honour it (the node has no active admin yet). Each record is
 * checked as peers will check it, since a refused record would stall the feed's replication.
 */
export async function createAdminOffline(
  ctx: CliContext,
  dir: string,
  input: { username: string; name: string; password: string },
): Promise<UserState> {
  return withLocalNode(ctx, dir, async ({ node, store }) => {
    const home = node.config.name
    const { username } = input
    if (homeOf(username) !== home)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `${username} belongs to ${homeOf(username)}, but ${dir} holds node ${home}`,
        { details: { field: 'username' } },
      )
    const directory = await foldUsers(store)
    if (directory.get(username))
      throw new EhrlogError('ARGUMENT_INVALID', `username ${username} is taken`, {
        details: { field: 'username' },
      })
    const kdf = newKdfParams(ctx.kdfCost ?? DEFAULT_KDF)
    const key = deriveLoginKey(username, input.password, kdf)
    key.seed.fill(0)
    const register: UserRecord = {
      op: 'register',
      username,
      name: input.name.trim(),
      role: 'admin',
      publicKey: toHex(key.publicKey),
      kdf,
    }
    const approve: UserRecord = { op: 'approve', username, by: username }
    for (const record of [register, approve]) {
      try {
        verifyEntryBody('user', record, home)
      } catch (cause) {
        const field = String((cause as EhrlogError).details?.field ?? '').replace(
          /^entry\.body\./,
          '',
        )
        throw new EhrlogError(
          'ARGUMENT_INVALID',
          `--${field || 'name'} is not acceptable: ${(cause as Error).message}`,
          {
            cause,
            details: { field: field || 'name' },
          },
        )
      }
    }
    // Applied to the folded directory first: its rules decide whether the approval counts.
    directory.apply(home, register)
    directory.apply(home, approve)
    const state = directory.get(username)!
    const records = state.status === 'active' ? [register, approve] : [register]
    await store.appendEntries(
      { origin: home, privateKey: node.signingKey },
      records.map((body) => ({ kind: 'user' as const, body })),
    )
    return state
  })
}

/** Every user record of every feed, folded as the running node does at start. */
async function foldUsers(store: LogStore): Promise<UserDirectory> {
  const directory = new UserDirectory()
  for (const origin of store.origins())
    for await (const e of store.entries(origin))
      if (e.entry.kind === 'user') directory.apply(origin, e.entry.body)
  return directory
}
