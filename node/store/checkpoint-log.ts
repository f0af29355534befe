import {
  type CosignedCheckpoint,
  checkpointId,
  cosignedFromJson,
  cosignedToJson,
} from '../core/checkpoint.ts'
import { encodeU64, PREFIX, prefixRange } from './format/key-layout.ts'
import type { LogStore } from './log-store.ts'
import { accessOf } from './store-access.ts'

/**
 * The cosigned checkpoints a node has verified, in the same encrypted LevelDB as the feeds,
 * keyed by time so the latest is one reverse seek. Stored as verified; read back, they are
 * verified again by whoever relies on them (they carry their own aggregate signature).
 */
export class CheckpointLog {
  readonly #store: LogStore

  constructor(store: LogStore) {
    this.#store = store
  }

  /**
   * `held`: the feeds this replica held up to their cut when the node adopted the checkpoint
   * (not part of what was signed; see CheckpointService.latestHeld).
   */
  async put(cosigned: CosignedCheckpoint, held?: readonly string[]): Promise<void> {
    const { db, cipher } = accessOf(this.#store)
    const key = Buffer.concat([
      Buffer.of(PREFIX.checkpoint),
      encodeU64(cosigned.checkpoint.timeMs),
      Buffer.from(checkpointId(cosigned.checkpoint).slice(0, 16), 'hex'),
    ])
    const record = { ...cosignedToJson(cosigned), ...(held ? { held } : {}) }
    await db.put(key, cipher.seal(key, Buffer.from(JSON.stringify(record))))
  }

  /** The newest stored checkpoint; undefined when none, or when it fails authentication. */
  async latest(): Promise<CosignedCheckpoint | undefined> {
    return (await this.latestRecord())?.cosigned
  }

  /**
   * The newest stored checkpoint with the feeds held when it was adopted; `held` is undefined
   * for a checkpoint stored before that was recorded. A checkpoint stored by an older version
   * (before the per-patient index, v1: its feeds carry no `indexRoot`; before membership
   * versions, v2: it names no `membership`) is no longer one this version can rely on or
   * extend: it is skipped with `onOld` told, as if none were stored, and the network cosigns
   * a new one at its next round (docs/operations.md, "Upgrading").
   */
  async latestRecord(
    onOld?: (old: { timeMs: number; id: string }) => void,
  ): Promise<{ cosigned: CosignedCheckpoint; held: ReadonlySet<string> | undefined } | undefined> {
    const { db, cipher } = accessOf(this.#store)
    const found = await db
      .iterator({ ...prefixRange(Buffer.of(PREFIX.checkpoint)), reverse: true, limit: 1 })
      .all()
    if (found.length === 0) return undefined
    const [key, value] = found[0]!
    const plain = cipher.open(key, value)
    if (!plain) return undefined
    const record = JSON.parse(plain.toString('utf8')) as {
      held?: unknown
      checkpoint?: { timeMs?: unknown; feeds?: unknown; membership?: unknown }
    }
    const feeds = record.checkpoint?.feeds
    const older =
      (Array.isArray(feeds) && feeds.some((f) => typeof f?.indexRoot !== 'string')) ||
      typeof record.checkpoint?.membership !== 'object'
    if (older) {
      onOld?.({ timeMs: Number(record.checkpoint?.timeMs), id: key.subarray(9).toString('hex') })
      return undefined
    }
    const held =
      Array.isArray(record.held) && record.held.every((o) => typeof o === 'string')
        ? new Set<string>(record.held)
        : undefined
    return { cosigned: cosignedFromJson(record), held }
  }
}
