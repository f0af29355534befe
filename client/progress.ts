import cliProgress from 'cli-progress'

export interface Progress {
  update(done: number): void
  stop(): void
}

/**
 * A progress bar on stderr for long work (bulk append, verify), shown only on a terminal so
 * that piped output and logs stay clean.
 */
export function startProgress(
  label: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0)
  return {
    update: (done) => bar.update(done),
    stop: () => bar.stop(),
  }
}
