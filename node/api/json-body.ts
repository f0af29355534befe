import { createHash } from 'node:crypto'
import { errorCodes } from 'fastify'
import { EhrlogError } from '../core/errors.ts'
import { duplicateKeyOf } from './json-duplicates.ts'

/** A JSON request body with the hash of its exact bytes, which idempotency receipts keep. */
export interface JsonBody {
  value: unknown
  /** SHA-256 of the raw body bytes, hex. */
  sha256: string
}

// fatal: a body that is not UTF-8 is refused rather than silently patched with U+FFFD;
// ignoreBOM: a byte order mark stays in the text, so the check below sees and refuses it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * The charset parameter of a Content-Type, lower case, or undefined when there is none.
 * RFC 8259 section 8.1: JSON exchanged between systems is UTF-8; anything else is refused
 * (415) rather than decoded as UTF-8 against the sender's word.
 */
export function assertUtf8ContentType(contentType: string | undefined): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()
}

/**
 * Decodes a raw request body: UTF-8 without a byte order mark, JSON without duplicate keys.
 * A duplicate key is refused because parsers disagree on it (JSON.parse keeps the last, others
 * the first): a proxy or log reading one value while ehrlog signs the other would see another
 * event than the one recorded. A `__proto__` key becomes an own property (JSON.parse), and
 * every object we read is checked by a strict schema that refuses it.
 */
export function parseJsonBody(bytes: Uint8Array, contentType?: string): JsonBody {
  assertUtf8ContentType(contentType)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    throw notJson('it starts with a UTF-8 byte order mark (RFC 8259 section 8.1: none allowed)')
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (cause) {
    throw notJson('it is not UTF-8', cause)
  }
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch (cause) {
    throw notJson((cause as Error).message, cause)
  }
  const duplicate = duplicateKeyOf(text)
  if (duplicate !== undefined)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `request body has the key ${JSON.stringify(duplicate.key.slice(0, 64))} twice in one object${duplicate.path ? ` (at ${duplicate.path})` : ''}: each key once`,
      { details: { field: duplicate.path ? `${duplicate.path}.${duplicate.key}` : duplicate.key } },
    )
  return { value, sha256 }
}

function notJson(reason: string, cause?: unknown): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `request body is not valid JSON: ${reason}`, {
    details: { field: 'body' },
    cause,
  })
}
