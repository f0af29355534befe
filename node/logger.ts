import { type Logger, pino } from 'pino'

export type { Logger }

/** Structured JSON logs on stdout (or a given stream); level from the caller, never from env deep down. */
export function createLogger(
  options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  return pino(
    { level: options.level ?? 'info', base: options.name ? { node: options.name } : {} },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination(1),
  )
}

/** A logger that drops everything (tests, offline commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
