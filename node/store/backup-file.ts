import { createHash } from 'node:crypto'
import { EhrlogError } from '../core/errors.ts'
import { classicLevel } from './classic-level.ts'
import { PREFIX } from './format/key-layout.ts'
import type { LogStore } from './log-store.ts'
import { accessOf } from './store-access.ts'
import { LEVELDB_TUNING } from './store-types.ts'

/**
 * A backup of a node's store: every LevelDB record as stored, so values stay sealed under the
 * node's value key and keys hold only HMAC tags and numbers (docs/storage.md): the file holds
 * no plaintext patient data, and is of no use without the node's keys (which it never holds).
 *
 * Layout: MAGIC[8] ‖ records ‖ END ‖ [trailer]. A record is u32 key length (≥ 1) ‖ key ‖
 * u32 value length ‖ value, big-endian. END is u32 0 ‖ u64 record count ‖ SHA-256 of every
 * byte before the hash[32]: a truncated or altered file is refused before anything is written.
 * The optional trailer is what `--with-secrets` appends (client/commands/backup-secrets.ts),
 * authenticated on its own.
 */
export const BACKUP_MAGIC = Buffer.from('EHRLOGB1', 'latin1')

/** Pending requests (`Q`) are left out: a restored node must not append what it took before. */
const SKIPPED = new Set<number>([PREFIX.pending])

/** Streams a consistent copy of the store (one LevelDB snapshot: the iterator's) as chunks. */
export async function* backupChunks(store: LogStore): AsyncGenerator<Buffer> {
  const { db } = accessOf(store)
  const hash = createHash('sha256')
  const emit = (b: Buffer) => {
    hash.update(b)
    return b
  }
  yield emit(BACKUP_MAGIC)
  let count = 0
  let chunk: Buffer[] = []
  let bytes = 0
  // An iterator reads from an implicit snapshot taken when it is created (LevelDB): appends
  // during the backup are not in it, and every batch in it is whole.
  for await (const [key, value] of db.iterator()) {
    if (SKIPPED.has(key[0]!)) continue
    const head = Buffer.allocUnsafe(4)
    head.writeUInt32BE(key.length)
    const mid = Buffer.allocUnsafe(4)
    mid.writeUInt32BE(value.length)
    chunk.push(head, key, mid, value)
    bytes += 8 + key.length + value.length
    count++
    if (bytes >= 1 << 20) {
      yield emit(Buffer.concat(chunk))
      chunk = []
      bytes = 0
    }
  }
  if (chunk.length > 0) yield emit(Buffer.concat(chunk))
  const end = Buffer.alloc(12)
  end.writeUInt32BE(0, 0)
  end.writeBigUInt64BE(BigInt(count), 4)
  hash.update(end)
  yield Buffer.concat([end, hash.digest()])
}

/**
 * The records of a backup file's bytes, after checking its magic, count and checksum, and the
 * trailer after them (empty when there is none). A record that would run past the end is
 * damage too: reported as a checksum mismatch, since the checksum cannot be found.
 */
export function readBackup(bytes: Buffer): { records: Array<[Buffer, Buffer]>; trailer: Buffer } {
  const bad = (why: string) => new EhrlogError('FILE_INVALID', `not a usable ehrlog backup: ${why}`)
  const damaged = () => bad('its checksum does not match (the file is truncated or was changed)')
  if (bytes.length < BACKUP_MAGIC.length + 12 + 32 || !bytes.subarray(0, 8).equals(BACKUP_MAGIC))
    throw bad('it does not start with the ehrlog backup header')
  const records: Array<[Buffer, Buffer]> = []
  let at = BACKUP_MAGIC.length
  for (;;) {
    if (at + 4 > bytes.length) throw damaged()
    const keyLength = bytes.readUInt32BE(at)
    at += 4
    if (keyLength === 0) break
    if (at + keyLength + 4 > bytes.length) throw damaged()
    const key = bytes.subarray(at, at + keyLength)
    at += keyLength
    const valueLength = bytes.readUInt32BE(at)
    at += 4
    if (at + valueLength > bytes.length) throw damaged()
    records.push([key, bytes.subarray(at, at + valueLength)])
    at += valueLength
  }
  if (at + 8 + 32 > bytes.length) throw damaged()
  const digest = createHash('sha256')
    .update(bytes.subarray(0, at + 8))
    .digest()
  if (!digest.equals(bytes.subarray(at + 8, at + 40))) throw damaged()
  const count = Number(bytes.readBigUInt64BE(at))
  if (count !== records.length)
    throw bad(`it ends saying ${count} records, holds ${records.length}`)
  return { records, trailer: bytes.subarray(at + 40) }
}

/** Writes a backup's records into a new LevelDB at `path` (which must not hold one). */
export async function writeBackupInto(
  path: string,
  records: Array<[Buffer, Buffer]>,
): Promise<void> {
  const db = new (classicLevel())<Buffer, Buffer>(path, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    compression: false,
    errorIfExists: true,
    ...LEVELDB_TUNING,
  })
  await db.open()
  try {
    for (let i = 0; i < records.length; i += 1000) {
      const batch = db.batch()
      for (const [key, value] of records.slice(i, i + 1000)) batch.put(key, value)
      await batch.write({ sync: true })
    }
  } finally {
    await db.close()
  }
}
