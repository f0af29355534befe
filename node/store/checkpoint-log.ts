import {
  type CosignedCheckpoint,
  checkpointId,
  cosignedFromJson,
  cosignedToJson,
} from '../core/checkpoint.ts'
import { encodeU64, PREFIX, prefixRange } from './key-layout.ts'
import type { LogStore } from './log-store.ts'

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

  async put(cosigned: CosignedCheckpoint): Promise<void> {
    const { db, cipher } = this.#store.internals
    const key = Buffer.concat([
      Buffer.of(PREFIX.checkpoint),
      encodeU64(cosigned.checkpoint.timeMs),
      Buffer.from(checkpointId(cosigned.checkpoint).slice(0, 16), 'hex'),
    ])
    await db.put(key, cipher.seal(key, Buffer.from(JSON.stringify(cosignedToJson(cosigned)))))
  }

  /** The newest stored checkpoint; undefined when none, or when it fails authentication. */
  async latest(): Promise<CosignedCheckpoint | undefined> {
    const { db, cipher } = this.#store.internals
    const found = await db
      .iterator({ ...prefixRange(Buffer.of(PREFIX.checkpoint)), reverse: true, limit: 1 })
      .all()
    if (found.length === 0) return undefined
    const [key, value] = found[0]!
    const plain = cipher.open(key, value)
    return plain ? cosignedFromJson(JSON.parse(plain.toString('utf8'))) : undefined
  }
}
