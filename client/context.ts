/** What a command may touch of the outside world; tests pass their own. */
export interface CliContext {
  out: (text: string) => void
  err: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
  /** stderr for progress bars (a TTY in a terminal). */
  progressStream?: NodeJS.WriteStream
  /** Set by a command that finished but must exit non-zero (verify found damage). */
  exitCode?: number
}

export function processContext(): CliContext {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    progressStream: process.stderr,
  }
}

/** The passphrase for a node folder comes from the environment only, never from argv (ps shows argv). */
export function passphraseOf(ctx: CliContext): string | undefined {
  return ctx.env.EHRLOG_PASSPHRASE || undefined
}
