import { z } from 'zod'

/**
 * `alerts.smtp` of config.json. Strict like the rest of the config: a misspelt `requireTls`
 * must not silently send a password in clear text.
 * - secure: implicit TLS from the first byte (port 465); otherwise plain SMTP upgraded with
 *   STARTTLS, which requireTLS (default: on) makes mandatory, so a stripped STARTTLS fails
 *   instead of falling back to clear text.
 * - rejectUnauthorized: false only for a test server with a self-signed certificate.
 */
export const smtpConfigSchema = z
  .strictObject({
    host: z.string().min(1),
    /** Default 587 (submission with STARTTLS), or 465 when secure. */
    port: z.number().int().min(1).max(65535).optional(),
    secure: z.boolean().default(false),
    /** Default true unless secure (where TLS is already there from the start). */
    requireTLS: z.boolean().optional(),
    auth: z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
    /** The From address of alert emails. */
    from: z.email(),
    rejectUnauthorized: z.boolean().default(true),
  })
  .transform((c) => ({
    ...c,
    port: c.port ?? (c.secure ? 465 : 587),
    requireTLS: c.requireTLS ?? !c.secure,
  }))

export type SmtpConfig = z.output<typeof smtpConfigSchema>
export type SmtpConfigInput = z.input<typeof smtpConfigSchema>
