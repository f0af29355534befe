import type { Command } from 'commander'
import { z } from 'zod'
import { AUTH_PATHS } from '../../node/api/index.ts'
import { accountEndpoint, parseAnswer } from '../account.ts'
import type { CliContext } from '../context.ts'
import { callNode } from '../node-client.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'

const whoamiSchema = z.object({
  username: z.string(),
  name: z.string().optional(),
  role: z.string(),
  status: z.string(),
  patientId: z.string().optional(),
  node: z.string(),
  issuer: z.string(),
  expiresMs: z.number(),
})

export function registerWhoami(program: Command, ctx: CliContext): void {
  program
    .command('whoami')
    .description('the saved session as a node sees it now (role, approval, patient binding)')
    .option('--node <url>', 'ask this node instead of the one that issued the session')
    .option('--json', 'print JSON')
    .action(async (opts: { node?: string; json?: boolean }) => {
      const session = await loadSession(ctx)
      const endpoint = await accountEndpoint({ node: opts.node ?? session.node })
      const me = parseAnswer(
        whoamiSchema,
        await callNode(endpoint, 'GET', AUTH_PATHS.whoami, undefined, sessionHeaders(session)),
        'whoami',
      )
      if (opts.json) {
        ctx.out(`${JSON.stringify(me)}\n`)
        return
      }
      const bound = me.patientId !== undefined ? `, patient id ${me.patientId}` : ''
      ctx.out(`${me.username}${me.name ? ` (${me.name})` : ''}: ${me.role}, ${me.status}${bound}\n`)
      ctx.out(
        `session issued by ${me.issuer}, valid until ${new Date(me.expiresMs).toISOString()} (checked by ${me.node})\n`,
      )
    })
}
