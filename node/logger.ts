import { type Logger, pino } from 'pino'

export type { Logger }

/** Structured JSON logs on stdout (or a given stream); level from the caller, never from env deep down. */
export function createLogger(
  options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: options.name ? { node: options.name } : {},
      // "time":"2026-12-06T00:35:12.345Z" (UTC, ISO 8601) rather than epoch milliseconds:
      // readable in journalctl and parsed by every log shipper.
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination(1),
  )
}

/** A logger that drops everything (tests, offline commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
