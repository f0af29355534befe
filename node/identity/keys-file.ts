import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { z } from 'zod'
import { EhrlogError } from '../core/errors.ts'
import { fromHex, toHex } from '../core/hex.ts'
import { TAGS } from '../core/layout.ts'
import { NODE_FILES } from './files.ts'
import { deriveKey, type ScryptParams } from './master-key.ts'
import { describeSchemaIssue } from './schema-issue.ts'

/**
 * keys.enc: the node's private keys as JSON, sealed with AES-256-GCM under
 * HKDF-SHA256(master, TAGS.hkdfKeysFile). The clear header says how to get the master secret:
 * `kdf: 'file'` (master.key) or scrypt parameters (a passphrase). The format string is the
 * GCM associated data, so a file of another format version cannot be passed off as this one.
 */
export const KEYS_FILE_FORMAT = 'ehrlog-keys-v1'

const NONCE_LENGTH = 12
const TAG_LENGTH = 16
const MAX_KEYS_FILE_BYTES = 64 * 1024

/** The private keys a node folder holds. */
export interface PrivateKeys {
  ed25519Seed: Uint8Array
  /** @libp2p/crypto privateKeyToProtobuf bytes. */
  libp2pPrivateKey: Uint8Array
  blsSecretKey: Uint8Array
  /** ISO time the keys were generated (for key-rotation audits). */
  createdAt: string
}

export type KeysFileKdf = 'file' | { name: 'scrypt'; salt: string; N: number; r: number; p: number }

export interface KeysFileHeader {
  format: typeof KEYS_FILE_FORMAT
  kdf: KeysFileKdf
  nonce: string
  ciphertext: string
}

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/)

// Bounds on the scrypt cost read from disk: the file is untrusted, and an absurd N would make
// open() hang or exhaust memory before the passphrase could be checked.
const headerSchema = z.strictObject({
  format: z.literal(KEYS_FILE_FORMAT),
  kdf: z.union([
    z.literal('file'),
    z.strictObject({
      name: z.literal('scrypt'),
      salt: z.string().regex(/^(?:[0-9a-f]{2}){16,64}$/),
      N: z
        .number()
        .int()
        .min(2 ** 10)
        .max(2 ** 20)
        .refine((n) => (n & (n - 1)) === 0, 'want a power of 2'),
      r: z.number().int().min(1).max(32),
      p: z.number().int().min(1).max(16),
    }),
  ]),
  nonce: hex(NONCE_LENGTH),
  ciphertext: base64,
})

const payloadSchema = z.strictObject({
  ed25519Seed: hex(32),
  libp2pPrivateKey: base64.min(1),
  blsSecretKey: hex(32),
  createdAt: z.iso.datetime(),
})

/** The scrypt parameters of a passphrase-mode header, decoded. */
export function scryptParamsOf(kdf: Exclude<KeysFileKdf, 'file'>): ScryptParams {
  return { salt: fromHex(kdf.salt) as Uint8Array, N: kdf.N, r: kdf.r, p: kdf.p }
}

/** Encrypts `keys` under the master secret; returns the file's text. */
export function sealKeysFile(keys: PrivateKeys, master: Uint8Array, kdf: KeysFileKdf): string {
  const payload = JSON.stringify({
    ed25519Seed: toHex(keys.ed25519Seed),
    libp2pPrivateKey: Buffer.from(keys.libp2pPrivateKey).toString('base64'),
    blsSecretKey: toHex(keys.blsSecretKey),
    createdAt: keys.createdAt,
  })
  const nonce = randomBytes(NONCE_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', deriveKey(master, TAGS.hkdfKeysFile), nonce)
  cipher.setAAD(Buffer.from(KEYS_FILE_FORMAT, 'utf8'))
  const sealed = Buffer.concat([
    cipher.update(payload, 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ])
  const header: KeysFileHeader = {
    format: KEYS_FILE_FORMAT,
    kdf,
    nonce: toHex(nonce),
    ciphertext: sealed.toString('base64'),
  }
  return `${JSON.stringify(header, null, 2)}\n`
}

/** Parses the untrusted text of keys.enc; throws KEY_FILE_INVALID naming the field. */
export function parseKeysFile(text: string): KeysFileHeader {
  if (text.length > MAX_KEYS_FILE_BYTES) {
    throw invalid(
      `${NODE_FILES.keys} has ${text.length} characters, want under ${MAX_KEYS_FILE_BYTES}`,
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw invalid(`${NODE_FILES.keys} is not valid JSON`, err)
  }
  const result = headerSchema.safeParse(value)
  if (!result.success) {
    const { field, message } = describeSchemaIssue(result.error)
    throw invalid(`${NODE_FILES.keys}: ${message}`, result.error, { field })
  }
  return result.data
}

/**
 * Decrypts keys.enc. Returns undefined when GCM authentication fails — the master secret is
 * not the one the file was sealed with (wrong passphrase, other master.key) or the file was
 * modified; the caller knows which error that is. Throws KEY_FILE_INVALID for a payload that
 * authenticates but is malformed.
 */
export function openKeysFile(header: KeysFileHeader, master: Uint8Array): PrivateKeys | undefined {
  return openKeysFileWith(header, keysFileKey(master))
}

/** The key keys files are sealed with, derived from the master secret (HKDF, TAGS.hkdfKeysFile). */
export function keysFileKey(master: Uint8Array): Uint8Array {
  return deriveKey(master, TAGS.hkdfKeysFile)
}

/** openKeysFile with the keys-file key itself (keysFileKey) instead of the master secret. */
export function openKeysFileWith(
  header: KeysFileHeader,
  fileKey: Uint8Array,
): PrivateKeys | undefined {
  const sealed = Buffer.from(header.ciphertext, 'base64')
  if (sealed.length < TAG_LENGTH) {
    throw invalid(
      `${NODE_FILES.keys}: ciphertext has ${sealed.length} bytes, want at least ${TAG_LENGTH}`,
    )
  }
  const decipher = createDecipheriv('aes-256-gcm', fileKey, fromHex(header.nonce) as Uint8Array)
  decipher.setAAD(Buffer.from(header.format, 'utf8'))
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH))
  let plaintext: string
  try {
    plaintext = Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH)),
      decipher.final(),
    ]).toString('utf8')
  } catch {
    return undefined
  }
  let value: unknown
  try {
    value = JSON.parse(plaintext)
  } catch (err) {
    throw invalid(`${NODE_FILES.keys}: decrypted keys are not valid JSON`, err)
  }
  const result = payloadSchema.safeParse(value)
  if (!result.success) {
    const { field, message } = describeSchemaIssue(result.error)
    throw invalid(`${NODE_FILES.keys}: decrypted keys: ${message}`, result.error, { field })
  }
  const keys = result.data
  return {
    ed25519Seed: fromHex(keys.ed25519Seed) as Uint8Array,
    libp2pPrivateKey: new Uint8Array(Buffer.from(keys.libp2pPrivateKey, 'base64')),
    blsSecretKey: fromHex(keys.blsSecretKey) as Uint8Array,
    createdAt: keys.createdAt,
  }
}

function invalid(
  message: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
): EhrlogError {
  return new EhrlogError('KEY_FILE_INVALID', message, {
    details: { file: NODE_FILES.keys, ...details },
    cause,
  })
}
