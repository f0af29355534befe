import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { ROLES } from '../node/core/auth/user-record.ts'
import { EhrlogError } from '../node/core/errors.ts'
import type { CliContext } from './context.ts'

/** The session `ehrlog login` saved, which later commands send as `Authorization: Session …`. */
export interface SavedSession {
  v: 1
  /** URL of the node that issued it (the account's home node): logout goes there. */
  node: string
  username: string
  token: string
  role: (typeof ROLES)[number]
  expiresMs: number
}

export const SESSION_FILE = 'session.json'

// The file is read back from disk: untrusted like any input, so parsed into a typed value.
const savedSessionSchema = z.strictObject({
  v: z.literal(1),
  node: z.url({ protocol: /^https?$/ }),
  username: z.string().min(1).max(200),
  token: z.string().min(1).max(4096),
  role: z.enum(ROLES),
  expiresMs: z.number().int(),
})

/** The user's config folder: from the CLI entry (processContext), or EHRLOG_CONFIG_DIR in tests. */
export function configDirOf(ctx: CliContext): string {
  if (ctx.configDir) return ctx.configDir
  // Deliberately no home-folder fallback here: only the CLI entry decides on that.
  if (ctx.env.EHRLOG_CONFIG_DIR) return resolve(ctx.env.EHRLOG_CONFIG_DIR)
  throw new EhrlogError(
    'CONFIG_INVALID',
    'no config folder for the saved session: set EHRLOG_CONFIG_DIR',
  )
}

/**
 * Saves the session as CONFIG/session.json, mode 0600 in a folder of mode 0700: the token is
 * a bearer credential until it expires or is logged out. Written whole or not at all.
 */
export async function saveSession(ctx: CliContext, session: SavedSession): Promise<string> {
  const dir = configDirOf(ctx)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700) // an existing folder too: nobody else lists or replaces the file
  const path = join(dir, SESSION_FILE)
  const temp = join(dir, `.${SESSION_FILE}.${randomBytes(6).toString('hex')}.tmp`)
  // 'wx': a fresh name, never someone else's file or link; chmod because open's mode is umasked.
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.chmod(0o600)
    await handle.writeFile(`${JSON.stringify(session, null, 2)}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
  return path
}

/** The saved session, or UNAUTHORIZED when there is none. */
export async function loadSession(ctx: CliContext): Promise<SavedSession> {
  const path = join(configDirOf(ctx), SESSION_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause
    throw new EhrlogError(
      'UNAUTHORIZED',
      'not logged in: run `ehrlog login --node URL --username NAME@NODE` first',
      { details: { field: 'session' } },
    )
  }
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0)
    ctx.err(`warning: ${path} can be read by other users: run chmod 600 ${path}\n`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const result = savedSessionSchema.safeParse(parsed)
  if (!result.success)
    throw new EhrlogError(
      'FILE_INVALID',
      `${path} is not a saved session: remove it and log in again`,
      { details: { field: SESSION_FILE } },
    )
  return result.data
}

/** Removes the saved session; true when there was one. */
export async function deleteSession(ctx: CliContext): Promise<boolean> {
  const path = join(configDirOf(ctx), SESSION_FILE)
  try {
    await rm(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Headers that carry the saved session to a node. */
export function sessionHeaders(session: SavedSession): Record<string, string> {
  return { authorization: `Session ${session.token}` }
}
