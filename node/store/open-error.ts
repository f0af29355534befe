import { EhrlogError } from '../core/errors.ts'

/** Why LevelDB did not open the store: STORE_LOCKED when another process holds it, else STORE_CORRUPT. */
export function openError(path: string, cause: unknown): EhrlogError {
  const text = `${(cause as Error).message} ${String((cause as { cause?: unknown }).cause ?? '')}`
  return /lock/i.test(text)
    ? new EhrlogError(
        'STORE_LOCKED',
        `the store at ${path} is in use by another process (a running node?)`,
        { cause },
      )
    : new EhrlogError('STORE_CORRUPT', `cannot open the store at ${path}`, { cause })
}
