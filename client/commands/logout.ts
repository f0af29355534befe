import type { Command } from 'commander'
import { AUTH_PATHS } from '../../node/api/index.ts'
import { EhrlogError, type ErrorCode, isEhrlogError } from '../../node/core/errors.ts'
import type { CliContext } from '../context.ts'
import { deleteSession, loadSession, sessionHeaders } from '../session-store.ts'

export function registerLogout(program: Command, ctx: CliContext): void {
  program
    .command('logout')
    .description(
      'end the saved session at every node (recorded in the home node feed) and delete it here',
    )
    .option('--node <url>', 'send the logout here instead of the node that issued the session')
    .action(async (opts: { node?: string }) => {
      const session = await loadSession(ctx)
      const url = (opts.node ?? session.node).replace(/\/+$/, '')
      try {
        await postExpectingNoContent(`${url}${AUTH_PATHS.logout}`, sessionHeaders(session))
      } catch (err) {
        // Already ended, expired or revoked: nothing is left to end, only the file to delete.
        if (!isEhrlogError(err, 'UNAUTHORIZED')) throw err
        await deleteSession(ctx)
        ctx.out(
          `the session of ${session.username} had already ended (${err.message}); removed it here\n`,
        )
        return
      }
      await deleteSession(ctx)
      ctx.out(`logged out ${session.username}: the session is ended at every node\n`)
    })
}

/**
 * POST without a body to a route that answers 204. A failure keeps the saved session (the
 * logout may not have happened) and maps the node's JSON error to an EhrlogError.
 */
async function postExpectingNoContent(url: string, headers: Record<string, string>): Promise<void> {
  let response: Response
  try {
    response = await fetch(url, { method: 'POST', headers, signal: AbortSignal.timeout(30_000) })
  } catch (cause) {
    throw new EhrlogError(
      'UNAVAILABLE',
      `cannot reach the node at ${url}: ${(cause as Error).message}; the session is still saved, so run ehrlog logout again`,
      { cause },
    )
  }
  if (response.status === 204) return
  let error: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } | undefined
  try {
    error = ((await response.json()) as { error?: typeof error }).error
  } catch {
    error = undefined
  }
  throw new EhrlogError(
    error?.code ?? 'UNAVAILABLE',
    error?.message ?? `the node answered ${response.status} to logout`,
    { details: error?.details ?? {} },
  )
}
