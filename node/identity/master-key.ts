import { hkdfSync, scrypt } from 'node:crypto'
import { open } from 'node:fs/promises'
import { EhrlogError } from '../core/errors.ts'
import { fromHex, toHex } from '../core/hex.ts'
import { TAGS } from '../core/layout.ts'
import { NODE_FILES } from './files.ts'

/**
 * The node master secret: 32 bytes from which every other secret key is derived (HKDF-SHA256,
 * one `info` per purpose, TAGS in core/layout.ts). It lives in master.key, or is derived from an
 * operator passphrase with scrypt so that nothing secret is on disk in the clear.
 */
export const MASTER_SECRET_LENGTH = 32

const MASTER_KEY_HEADER = 'ehrlog-master-key-v1'

/** The text of master.key: `ehrlog-master-key-v1\n<64 hex>\n`. */
export function formatMasterKey(secret: Uint8Array): string {
  return formatSecretKey(MASTER_KEY_HEADER, secret)
}

/** Parses master.key text; throws KEY_FILE_INVALID (without echoing the content). */
export function parseMasterKey(text: string): Uint8Array {
  return parseSecretKey(text, NODE_FILES.masterKey, MASTER_KEY_HEADER)
}

/**
 * Reads master.key. Refuses a file readable or writable by group or others, as ssh does for
 * private keys: such a key may already be copied, and silently using it hides that.
 * Returns undefined if the file does not exist.
 */
export function readMasterKeyFile(path: string): Promise<Uint8Array | undefined> {
  return readSecretKeyFile(path, NODE_FILES.masterKey, MASTER_KEY_HEADER)
}

// Header + newline + 64 hex + newline; anything much larger is not a key file.
const SECRET_KEY_MAX_BYTES = 256

/** The text of a 32-byte secret key file: `<header>\n<64 hex>\n`. */
export function formatSecretKey(header: string, secret: Uint8Array): string {
  return `${header}\n${toHex(secret)}\n`
}

/** Parses a secret key file's text; throws KEY_FILE_INVALID (without echoing the content). */
export function parseSecretKey(text: string, file: string, header: string): Uint8Array {
  const lines = text.split(/\r?\n/)
  if (lines[0] !== header) throw invalid(file, `${file} does not start with "${header}"`)
  if (lines.slice(2).some((line) => line !== '')) {
    throw invalid(file, `${file} has extra lines after the key`)
  }
  const secret = fromHex(lines[1] ?? '', MASTER_SECRET_LENGTH)
  if (!secret) {
    throw invalid(
      file,
      `${file} key line has ${(lines[1] ?? '').length} characters, want ${MASTER_SECRET_LENGTH * 2} lower-case hex`,
    )
  }
  return secret
}

/**
 * Reads a 32-byte secret key file (master.key, index.key). Refuses a file readable or writable
 * by group or others, as ssh does for private keys. Returns undefined if it does not exist.
 */
export async function readSecretKeyFile(
  path: string,
  file: string,
  header: string,
): Promise<Uint8Array | undefined> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw invalid(file, `${file} cannot be read: ${(err as Error).message}`, err)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw invalid(file, `${file} is not a regular file`)
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0')
      throw invalid(file, `${file} has mode ${mode}, want 0600 (chmod 600 ${path})`, undefined, {
        mode,
      })
    }
    if (stat.size > SECRET_KEY_MAX_BYTES) {
      throw invalid(file, `${file} has ${stat.size} bytes, want about ${header.length + 66}`)
    }
    return parseSecretKey(await handle.readFile('utf8'), file, header)
  } finally {
    await handle.close()
  }
}

/** HKDF-SHA256(master, salt = empty, info) → 32 bytes: an independent key per purpose. */
export function deriveKey(master: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', master, new Uint8Array(0), info, 32))
}

export interface StoreKeys {
  /** AES key for values at rest (node/store). */
  valueKey: Uint8Array
  /** HMAC key for blind indexes, so no patient id is stored in plaintext. */
  indexKey: Uint8Array
}

export function deriveStoreKeys(master: Uint8Array): StoreKeys {
  return {
    valueKey: deriveKey(master, TAGS.hkdfValueEncryption),
    indexKey: deriveKey(master, TAGS.hkdfBlindIndex),
  }
}

export interface ScryptParams {
  salt: Uint8Array
  N: number
  r: number
  p: number
}

/** Default cost: N = 2^15, r = 8, p = 1 (32 MiB, RFC 7914 §2's interactive-use range). */
export const DEFAULT_SCRYPT_N = 2 ** 15

/**
 * scrypt(passphrase, salt) → master secret. The passphrase is NFC-normalized so the same
 * characters typed on different systems give the same key. Runs off the event loop.
 */
export function masterSecretFromPassphrase(
  passphrase: string,
  params: ScryptParams,
): Promise<Uint8Array> {
  const { salt, N, r, p } = params
  // Node's default maxmem (32 MiB) is exactly 128·N·r at the default cost and scrypt needs a
  // little more; allow twice the working set.
  const maxmem = 2 * 128 * N * r * p
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase.normalize('NFC'),
      salt,
      MASTER_SECRET_LENGTH,
      { N, r, p, maxmem },
      (err, key) => {
        if (err) reject(err)
        else resolve(new Uint8Array(key))
      },
    )
  })
}

function invalid(
  file: string,
  message: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
): EhrlogError {
  return new EhrlogError('KEY_FILE_INVALID', message, {
    details: { file, ...details },
    cause,
  })
}
