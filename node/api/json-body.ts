import { createHash } from 'node:crypto'
import { EhrlogError } from '../core/errors.ts'

/** A JSON request body with the hash of its exact bytes, which idempotency receipts keep. */
export interface JsonBody {
  value: unknown
  /** SHA-256 of the raw body bytes, hex. */
  sha256: string
}

// fatal: a body that is not UTF-8 is refused rather than silently patched with U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes a raw request body. Plain JSON.parse is enough here: a `__proto__` key becomes an
 * own property, and every object we read is checked by a strict schema that refuses it.
 */
export function parseJsonBody(bytes: Uint8Array): JsonBody {
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (cause) {
    throw notJson('it is not UTF-8', cause)
  }
  try {
    return { value: JSON.parse(text) as unknown, sha256 }
  } catch (cause) {
    throw notJson((cause as Error).message, cause)
  }
}

function notJson(reason: string, cause: unknown): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `request body is not valid JSON: ${reason}`, {
    details: { field: 'body' },
    cause,
  })
}
