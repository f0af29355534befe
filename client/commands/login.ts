import type { Command } from 'commander'
import { z } from 'zod'
import { AUTH_PATHS } from '../../node/api/index.ts'
import { deriveLoginKey, signLoginChallenge } from '../../node/core/auth/password-key.ts'
import { ROLES } from '../../node/core/auth/user-record.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import { accountEndpoint, checkUsernameArgument, parseAnswer } from '../account.ts'
import type { CliContext } from '../context.ts'
import { callNode } from '../node-client.ts'
import { readPassword } from '../password-prompt.ts'
import { saveSession } from '../session-store.ts'

// What the node answers is untrusted too: a hostile node must not hang the client with huge
// scrypt parameters (deriveLoginKey bounds them) or make it sign for another username.
const challengeSchema = z.object({
  node: z.string().min(1).max(63),
  username: z.string(),
  nonce: z.string().regex(/^[0-9a-f]{64}$/),
  expiresMs: z.number().int().nonnegative(),
  kdf: z.object({
    name: z.literal('scrypt'),
    salt: z.string(),
    N: z.number(),
    r: z.number(),
    p: z.number(),
  }),
})
const loginAnswerSchema = z.object({
  token: z.string().min(1).max(4096),
  claims: z.object({ sub: z.string(), role: z.enum(ROLES), exp: z.number().int() }),
  status: z.string(),
})

export function registerLogin(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description(
      'sign in at your home node; the password never leaves this machine (it signs a challenge)',
    )
    .option('--node <url>', 'your home node, e.g. http://127.0.0.1:7401')
    .option('--dir <dir>', 'a node folder whose running node to use')
    .requiredOption('--username <name@node>', 'your username, e.g. anish@hospital-c')
    .option('--password-stdin', 'read the password from stdin (a pipe) instead of asking')
    .option('--json', 'print the session as JSON (without the token)')
    .action(
      async (opts: {
        node?: string
        dir?: string
        username: string
        passwordStdin?: boolean
        json?: boolean
      }) => {
        const username = checkUsernameArgument(opts.username)
        const endpoint = await accountEndpoint(opts)
        // The password first: the challenge expires a minute after it is issued.
        const password = await readPassword(ctx, {
          prompt: `password for ${username}: `,
          fromStdin: opts.passwordStdin === true,
        })
        const challenge = parseAnswer(
          challengeSchema,
          await callNode(endpoint, 'POST', AUTH_PATHS.challenge, { username }),
          'challenge',
        )
        if (challenge.username !== username)
          throw new EhrlogError(
            'UNAVAILABLE',
            `the node answered a challenge for ${challenge.username}, not ${username}`,
          )
        const key = deriveLoginKey(username, password, challenge.kdf)
        const message = loginMessage(
          challenge.node,
          username,
          fromHex(challenge.nonce, 32)!,
          challenge.expiresMs,
        )
        const signature = toHex(signLoginChallenge(key, message))
        key.seed.fill(0)
        const answer = parseAnswer(
          loginAnswerSchema,
          await callNode(endpoint, 'POST', AUTH_PATHS.login, {
            username,
            nonce: challenge.nonce,
            signature,
          }),
          'login',
        )
        const { claims, status } = answer
        const path = await saveSession(ctx, {
          v: 1,
          node: endpoint.url,
          username: claims.sub,
          token: answer.token,
          role: claims.role,
          expiresMs: claims.exp,
        })
        const until = new Date(claims.exp).toISOString()
        if (opts.json) {
          ctx.out(
            `${JSON.stringify({ username: claims.sub, role: claims.role, status, expiresMs: claims.exp, sessionFile: path })}\n`,
          )
          return
        }
        ctx.out(`logged in as ${claims.sub} (${claims.role}, ${status}) until ${until}\n`)
        if (status === 'pending')
          ctx.out(
            `note: an admin of ${challenge.node} must approve ${claims.sub} before it can see any log\n`,
          )
      },
    )
}
