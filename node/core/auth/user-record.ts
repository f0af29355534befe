import { z } from 'zod'
import { isIJsonText } from '../event.ts'
import { fromHex } from '../hex.ts'
import { ORIGIN_PATTERN } from '../layout.ts'

/**
 * Users are entries of kind 'user' in their home node's feed (docs/auth.md), so every node can
 * authenticate every user without a global lock: a username is namespaced by its home node
 * (alice@hospital-a), and only that node writes records about it. Records never carry a
 * password or anything that checks one without the scrypt work: only the login public key.
 */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,31}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
export const ROLES = ['patient', 'auditor', 'admin'] as const

const username = z.string().regex(USERNAME_PATTERN, 'want name@node, e.g. anish@hospital-c')
const hex = (bytes: number) =>
  z.string().refine((s) => fromHex(s, bytes) !== undefined, `want ${bytes} bytes of hex`)
const kdf = z.strictObject({
  name: z.literal('scrypt'),
  salt: z.string().regex(/^[0-9a-f]{32,128}$/),
  N: z.number().int(),
  r: z.number().int(),
  p: z.number().int(),
})
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'no control characters')
  .refine(isIJsonText, 'no lone surrogates or Unicode noncharacters (I-JSON, RFC 7493 §2.1)')

export const userRecordSchema = z.discriminatedUnion('op', [
  /** A new account. Patients and auditors register themselves; a patient with an enrollment code is bound at once. */
  z.strictObject({
    op: z.literal('register'),
    username,
    name: displayName,
    role: z.enum(ROLES),
    publicKey: hex(32),
    kdf,
    /** SHA-256 of the enrollment code a patient registered with (hex), if any. */
    enrollment: hex(32).optional(),
  }),
  /** An admin's approval: auditors and admins can do nothing before it. */
  z.strictObject({ op: z.literal('approve'), username, by: username }),
  /** An admin issued a one-time enrollment code for a patient id (only its hash is kept). */
  z.strictObject({
    op: z.literal('enroll'),
    codeHash: hex(32),
    patientId: z.string().min(1).max(128),
    expiresMs: z.number().int(),
    by: username,
  }),
  /** The account is bound to a patient id (by registering with an enrollment code). */
  z.strictObject({
    op: z.literal('bind'),
    username,
    patientId: z.string().min(1).max(128),
    codeHash: hex(32),
  }),
  /** The account may no longer log in; its sessions end everywhere. */
  z.strictObject({ op: z.literal('revoke'), username, by: username }),
  /** A new password: a new login key. */
  z.strictObject({ op: z.literal('password'), username, publicKey: hex(32), kdf }),
  /** Logout: this session id is no longer accepted by any node. */
  z.strictObject({
    op: z.literal('end-session'),
    sid: z.string().regex(/^[0-9a-f]{32}$/),
    username,
  }),
])

export type UserRecord = z.output<typeof userRecordSchema>

/** The home node of a username: the part after '@'. */
export function homeOf(user: string): string {
  return user.slice(user.indexOf('@') + 1)
}

export function isValidOrigin(name: string): boolean {
  return ORIGIN_PATTERN.test(name)
}
