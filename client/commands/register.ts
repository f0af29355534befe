import type { Command } from 'commander'
import { z } from 'zod'
import { AUTH_PATHS } from '../../node/api/index.ts'
import { DEFAULT_KDF, deriveLoginKey, newKdfParams } from '../../node/core/auth/password-key.ts'
import { homeOf } from '../../node/core/auth/user-record.ts'
import { toHex } from '../../node/core/hex.ts'
import { accountEndpoint, checkUsernameArgument, parseAnswer } from '../account.ts'
import type { CliContext } from '../context.ts'
import { callNode } from '../node-client.ts'
import { assertNewPassword, readPassword } from '../password-prompt.ts'

const registerAnswerSchema = z.object({
  username: z.string(),
  role: z.string(),
  status: z.string(),
  patientId: z.string().optional(),
})

export function registerRegister(program: Command, ctx: CliContext): void {
  program
    .command('register')
    .description(
      'create a patient (or, with --auditor, an auditor) account at its home node; only a public key derived from the password is sent',
    )
    .option('--node <url>', 'the home node of the username, e.g. http://127.0.0.1:7405')
    .option('--dir <dir>', 'a node folder whose running node to use')
    .requiredOption('--username <name@node>', 'the new username, e.g. anish@hospital-c')
    .requiredOption('--name <name>', 'your name as the hospital knows it')
    .option('--auditor', 'an auditor account (pending until an admin of the node approves it)')
    .option(
      '--enrollment-code <code>',
      "the one-time code from your hospital: binds the account to your patient record, so you see your log's entries",
    )
    .option('--password-stdin', 'read the password from stdin (a pipe) instead of asking')
    .option('--json', 'print the answer as JSON')
    .action(
      async (opts: {
        node?: string
        dir?: string
        username: string
        name: string
        auditor?: boolean
        enrollmentCode?: string
        passwordStdin?: boolean
        json?: boolean
      }) => {
        const username = checkUsernameArgument(opts.username)
        const endpoint = await accountEndpoint(opts)
        const password = await readPassword(ctx, {
          prompt: `new password for ${username}: `,
          fromStdin: opts.passwordStdin === true,
          confirm: true,
        })
        assertNewPassword(password)
        // The scrypt work happens here, on this machine; the node learns the public key only.
        const kdf = newKdfParams(ctx.kdfCost ?? DEFAULT_KDF)
        const key = deriveLoginKey(username, password, kdf)
        key.seed.fill(0)
        const role = opts.auditor ? 'auditor' : 'patient'
        const answer = parseAnswer(
          registerAnswerSchema,
          await callNode(endpoint, 'POST', AUTH_PATHS.register, {
            username,
            name: opts.name,
            role,
            publicKey: toHex(key.publicKey),
            kdf,
            ...(opts.enrollmentCode !== undefined ? { enrollmentCode: opts.enrollmentCode } : {}),
          }),
          'register',
        )
        if (opts.json) {
          ctx.out(`${JSON.stringify(answer)}\n`)
          return
        }
        const bound = answer.patientId !== undefined ? `, patient id ${answer.patientId}` : ''
        ctx.out(`registered ${answer.username} (${answer.role}, ${answer.status}${bound})\n`)
        if (answer.status === 'pending')
          ctx.out(
            `pending: an admin of ${homeOf(username)} must approve it (ehrlog user approve ${username}) before it can see any log\n`,
          )
        else if (role === 'patient' && answer.patientId === undefined)
          ctx.out(
            'note: without an enrollment code the account is not bound to a patient record yet, so it sees no entries\n',
          )
        ctx.out(`log in with: ehrlog login --node ${endpoint.url} --username ${username}\n`)
      },
    )
}
