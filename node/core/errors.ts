/**
 * The one error class of ehrlog. `code` is API: documented in the README, never renamed.
 * `details` carries machine-readable context (the field, the evidence) for alerts and HTTP bodies.
 */
export type ErrorCode =
  // input at the edges
  | 'EVENT_INVALID'
  | 'ENTRY_INVALID'
  | 'ARGUMENT_INVALID'
  | 'CONFIG_INVALID'
  | 'FILE_INVALID'
  // keys and secrets
  | 'KEY_FILE_INVALID'
  | 'PASSPHRASE_WRONG'
  | 'PASSPHRASE_REQUIRED'
  | 'ALREADY_INITIALIZED'
  | 'NOT_INITIALIZED'
  // verification
  | 'INVALID_SIGNATURE'
  | 'INVALID_PROOF'
  | 'CHAIN_BROKEN'
  | 'SEQ_MISMATCH'
  | 'ORIGIN_UNKNOWN'
  | 'EQUIVOCATION'
  // membership changes (node/core/trust/membership-chain.ts)
  | 'SIGNER_UNKNOWN'
  | 'QUORUM_NOT_MET'
  | 'CHANGE_REPLAYED'
  | 'CHANGE_OUT_OF_ORDER'
  | 'MEMBER_CONFLICT'
  | 'MEMBERSHIP_UNKNOWN'
  // storage
  | 'STORE_LOCKED'
  | 'STORE_CLOSED'
  | 'STORE_CORRUPT'
  | 'NOT_FOUND'
  // network and access
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'PAYLOAD_TOO_LARGE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'MESSAGE_INVALID'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL'

export class EhrlogError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'EhrlogError'
    this.code = code
    this.details = options.details ?? {}
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details }
  }
}

export function isEhrlogError(err: unknown, code?: ErrorCode): err is EhrlogError {
  return err instanceof EhrlogError && (code === undefined || err.code === code)
}
