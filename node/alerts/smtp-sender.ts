import { createTransport } from 'nodemailer'
import type { SmtpConfig } from '../identity/index.ts'

/**
 * Bounds on one delivery attempt, so a server that accepts the connection and then says
 * nothing cannot hold the queue (nodemailer's defaults are minutes).
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

export interface SmtpSender {
  /** Hands finished RFC 5322 bytes to the server for `to`; rejects when it did not take them. */
  send(message: Buffer, to: readonly string[]): Promise<void>
  close(): void
}

/** One SMTP connection per send: alerts are rare, and a fresh connection has no stale state. */
export function createSmtpSender(config: SmtpConfig): SmtpSender {
  const transport = createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTLS,
    ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.pass } } : {}),
    tls: { rejectUnauthorized: config.rejectUnauthorized },
    ...TIMEOUTS,
  })
  return {
    async send(message, to) {
      // The message is already rendered (it waited in the queue as a file): send it byte for
      // byte, with the envelope from the current config rather than its headers.
      await transport.sendMail({ envelope: { from: config.from, to: [...to] }, raw: message })
    },
    close() {
      transport.close()
    },
  }
}
