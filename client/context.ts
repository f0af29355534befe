import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** What a command may touch of the outside world; tests pass their own. */
export interface CliContext {
  out: (text: string) => void
  err: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
  /** stderr for progress bars (a TTY in a terminal). */
  progressStream?: NodeJS.WriteStream
  /** Set by a command that finished but must exit non-zero (verify found damage). */
  exitCode?: number
  /** The user's config folder (the saved session): $EHRLOG_CONFIG_DIR or ~/.config/ehrlog. */
  configDir?: string
  /** Where passwords come from; absent: a TTY prompt without echo, or stdin (password-prompt.ts). */
  passwordInput?: PasswordInput
  /** Tests only: a cheaper scrypt cost for new login keys (never from argv or env). */
  kdfCost?: { N: number; r: number; p: number }
}

/** Reads one password; `source` is 'stdin' with --password-stdin, else 'tty'. */
export type PasswordInput = (prompt: string, source: 'tty' | 'stdin') => Promise<string>

export function processContext(): CliContext {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    progressStream: process.stderr,
    configDir: userConfigDir(process.env),
  }
}

/** $EHRLOG_CONFIG_DIR, else $XDG_CONFIG_HOME/ehrlog, else ~/.config/ehrlog. */
export function userConfigDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.EHRLOG_CONFIG_DIR) return resolve(env.EHRLOG_CONFIG_DIR)
  return join(
    env.XDG_CONFIG_HOME ? resolve(env.XDG_CONFIG_HOME) : join(homedir(), '.config'),
    'ehrlog',
  )
}

/** The passphrase for a node folder comes from the environment only, never from argv (ps shows argv). */
export function passphraseOf(ctx: CliContext): string | undefined {
  return ctx.env.EHRLOG_PASSPHRASE || undefined
}
