import { EhrlogError } from '../core/errors.ts'

export const IDEMPOTENCY_KEY_MAX = 200

// Printable ASCII: the key is stored and compared as given, so nothing invisible or
// normalizable (Unicode look-alikes, control characters) gets in.
const KEY_PATTERN = new RegExp(`^[\\x20-\\x7e]{1,${IDEMPOTENCY_KEY_MAX}}$`)

/** The optional Idempotency-Key header; throws ARGUMENT_INVALID naming the header. */
export function readIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX} printable ASCII characters`,
      { details: { field: 'Idempotency-Key' } },
    )
  }
  return header
}
