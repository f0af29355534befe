import { InvalidArgumentError } from 'commander'

/* Commander parsers for numeric flags: a bad value is refused before the command runs. */

/** A port number in [0, 65535] (0: any free port). */
export function toPort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(
      `port must be a whole number from 0 to 65535, got ${JSON.stringify(text)}`,
    )
  }
  return port
}

/** A commander parser for a whole number in [min, max]. */
export function toCount(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`want a whole number from ${min} to ${max}, got ${text}`)
    return n
  }
}
