import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { EhrlogError } from '../core/errors.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'

/*
 * The node's statistics secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the
 * node's value key, itself derived from the master secret (node/identity master-key.ts): the
 * same protection as keys.enc. File: "ehrlog-stats-sealed-v1\n" || base64(iv || ct || tag).
 */

const HEADER = 'ehrlog-stats-sealed-v1\n'

export function sealingKey(valueKey: Uint8Array, purpose: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', valueKey, new Uint8Array(0), `ehrlog/stats-seal/v1/${purpose}`, 32),
  )
}

export async function writeSealed(path: string, key: Buffer, value: unknown): Promise<void> {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(HEADER))
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
  const text = `${HEADER}${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64')}\n`
  await writeFileAtomic(path, text, { mode: 0o600 })
}

/** The sealed value, undefined when the file is absent; KEY_FILE_INVALID when it does not open. */
export async function readSealed<T>(path: string, key: Buffer): Promise<T | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    if (!text.startsWith(HEADER)) throw new Error('no header')
    const raw = Buffer.from(text.slice(HEADER.length).trim(), 'base64')
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
    decipher.setAAD(Buffer.from(HEADER))
    decipher.setAuthTag(raw.subarray(raw.length - 16))
    const plain = Buffer.concat([
      decipher.update(raw.subarray(12, raw.length - 16)),
      decipher.final(),
    ])
    return JSON.parse(plain.toString('utf8')) as T
  } catch (err) {
    throw new EhrlogError(
      'KEY_FILE_INVALID',
      `${path} does not open with this node's keys: ${(err as Error).message}`,
    )
  }
}
