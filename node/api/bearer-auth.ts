import { createHash, timingSafeEqual } from 'node:crypto'
import { EhrlogError } from '../core/errors.ts'

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * The EHR's API token. Tokens are compared as SHA-256 digests with timingSafeEqual: equal
 * lengths whatever was sent, and no early exit that would let a caller time its way to
 * the token byte by byte.
 */
export class BearerToken {
  readonly #digest: Buffer

  constructor(token: string) {
    if (token.length === 0) throw new EhrlogError('ARGUMENT_INVALID', 'the API token is empty')
    this.#digest = sha256(token)
  }

  /** Throws UNAUTHORIZED unless `header` (the Authorization header) is `Bearer <token>`. */
  check(header: string | undefined): void {
    if (header === undefined || header.trim() === '') {
      throw unauthorized('missing API token: want the header Authorization: Bearer <apiToken>')
    }
    // The scheme is case-insensitive (RFC 9110 11.1).
    const match = /^bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw unauthorized('the Authorization header is not a Bearer token')
    if (!timingSafeEqual(sha256(match[1]!), this.#digest)) throw unauthorized('wrong API token')
  }
}

function unauthorized(message: string): EhrlogError {
  return new EhrlogError('UNAUTHORIZED', message, { details: { field: 'Authorization' } })
}
