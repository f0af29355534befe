import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../../node/core/errors.ts'
import { NODE_FILES } from '../../node/identity/index.ts'

/**
 * The trailer `ehrlog backup --with-secrets` appends to a backup (node/store/backup-file.ts):
 * the node folder's files without which the store cannot be read or the node cannot run
 * (config, identity, master key when there is one, private keys, network.json, proven BLS
 * keys), encrypted under a passphrase from EHRLOG_BACKUP_PASSPHRASE (never argv).
 *
 * Layout: SECRETS_MAGIC[8] ‖ salt[16] ‖ nonce[12] ‖ ciphertext ‖ tag[16]. Key: scrypt(passphrase,
 * salt, N=2^15, r=8, p=1, 32 bytes) (RFC 7914); AES-256-GCM with SECRETS_MAGIC as associated
 * data. Plaintext: JSON {"files": {name: base64}}.
 */
export const SECRETS_MAGIC = Buffer.from('EHRLOGS1', 'latin1')
export const BACKUP_PASSPHRASE_ENV = 'EHRLOG_BACKUP_PASSPHRASE'

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }
const SECRET_FILES = [
  NODE_FILES.config,
  NODE_FILES.identity,
  NODE_FILES.masterKey,
  NODE_FILES.keys,
  // A rotated key (ehrlog keys rotate): once its change is applied, the node needs it to start.
  'keys-next.enc',
  NODE_FILES.provenKeys,
  NODE_FILES.indexKey,
  'network.json',
] as const

/** The passphrase for a secrets trailer, or PASSPHRASE_REQUIRED naming the variable. */
export function backupPassphrase(env: Readonly<Record<string, string | undefined>>): string {
  const passphrase = env[BACKUP_PASSPHRASE_ENV]
  if (!passphrase || passphrase.length < 12)
    throw new EhrlogError(
      'PASSPHRASE_REQUIRED',
      `--with-secrets encrypts the node's keys: set ${BACKUP_PASSPHRASE_ENV} to a passphrase of 12 characters or more`,
    )
  return passphrase
}

/** Reads the folder's secret files (those present) and seals them into a trailer. */
export async function sealSecrets(dir: string, passphrase: string): Promise<Buffer> {
  const files: Record<string, string> = {}
  for (const name of SECRET_FILES) {
    const bytes = await readFile(join(dir, name)).catch(() => undefined)
    if (bytes) files[name] = bytes.toString('base64')
  }
  const salt = randomBytes(16)
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', scryptSync(passphrase, salt, 32, SCRYPT), nonce)
  cipher.setAAD(SECRETS_MAGIC)
  const body = Buffer.concat([cipher.update(JSON.stringify({ files })), cipher.final()])
  return Buffer.concat([SECRETS_MAGIC, salt, nonce, body, cipher.getAuthTag()])
}

/** The files of a trailer: PASSPHRASE_WRONG when it does not open, FILE_INVALID when malformed. */
export function openSecrets(trailer: Buffer, passphrase: string): Map<string, Buffer> {
  if (trailer.length < 8 + 16 + 12 + 16 || !trailer.subarray(0, 8).equals(SECRETS_MAGIC))
    throw new EhrlogError(
      'FILE_INVALID',
      'the backup holds no secrets (taken without --with-secrets)',
    )
  const salt = trailer.subarray(8, 24)
  const decipher = createDecipheriv(
    'aes-256-gcm',
    scryptSync(passphrase, salt, 32, SCRYPT),
    trailer.subarray(24, 36),
  )
  decipher.setAAD(SECRETS_MAGIC)
  decipher.setAuthTag(trailer.subarray(trailer.length - 16))
  let plain: Buffer
  try {
    plain = Buffer.concat([
      decipher.update(trailer.subarray(36, trailer.length - 16)),
      decipher.final(),
    ])
  } catch {
    throw new EhrlogError(
      'PASSPHRASE_WRONG',
      `the backup's secrets do not open with ${BACKUP_PASSPHRASE_ENV} (wrong passphrase, or the file was changed)`,
    )
  }
  const { files } = JSON.parse(plain.toString('utf8')) as { files: Record<string, string> }
  const out = new Map<string, Buffer>()
  for (const name of SECRET_FILES)
    if (files[name]) out.set(name, Buffer.from(files[name], 'base64'))
  return out
}
