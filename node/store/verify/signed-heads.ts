import type { ClassicLevel } from 'classic-level'
import { isTreeHeadSignatureValid } from '../../core/tree-head.ts'
import { type FeedTag, PREFIX, prefixRange, seqOfKey } from '../format/key-layout.ts'
import { decodeHeadRecord } from '../format/records.ts'
import type { StoreAccess } from '../store-access.ts'
import type { Problem } from './report.ts'

const CHUNK = 1024

/** A LevelDB snapshot: reads given it see the store as it was when it was taken. */
export type Snapshot = ReturnType<ClassicLevel<Buffer, Buffer>['snapshot']>

/**
 * A feed's signed tree heads for verifyReplica, read in size order a chunk at a time and
 * each checked once: authentic (AES-GCM) and signed by the origin's key. Heads that fail
 * are reported and dropped: a forged head is no evidence about the entries.
 */
export class SignedHeads {
  readonly #store: StoreAccess
  readonly #origin: string
  readonly #problem: (p: Omit<Problem, 'origin'>) => void
  readonly #iterator: ReturnType<ClassicLevel<Buffer, Buffer>['iterator']>
  #buffer: Array<[Buffer, Buffer]> = []
  #at = 0
  #done = false

  constructor(
    store: StoreAccess,
    origin: string,
    tag: FeedTag,
    problem: (p: Omit<Problem, 'origin'>) => void,
    snapshot?: Snapshot,
  ) {
    this.#store = store
    this.#origin = origin
    this.#problem = problem
    this.#iterator = store.db.iterator({ ...prefixRange(headPrefix(tag)), snapshot })
  }

  /** Size of the latest signed head on disk (0 if none), authentic or not. */
  static async latestSize(store: StoreAccess, tag: FeedTag, snapshot?: Snapshot): Promise<number> {
    const range = { ...prefixRange(headPrefix(tag)), reverse: true, limit: 1, snapshot }
    const last = await store.db.keys(range).all()
    return last[0] ? seqOfKey(last[0]) : 0
  }

  /** Buffers heads until one beyond `size` (or the last) is in. */
  async loadUpTo(size: number): Promise<void> {
    while (!this.#done) {
      const last = this.#buffer[this.#buffer.length - 1]
      if (last && seqOfKey(last[0]) > size) return
      const more = (await this.#iterator.nextv(CHUNK)) as Array<[Buffer, Buffer]>
      if (more.length === 0) this.#done = true
      this.#buffer = this.#buffer.slice(this.#at).concat(more)
      this.#at = 0
    }
  }

  /**
   * The roots of the valid heads up to `size` not taken yet; those at exactly `size` are
   * returned, the others (at sizes with no entry record) are only checked. Call loadUpTo first.
   */
  takeUpTo(size: number): Uint8Array[] {
    const roots: Uint8Array[] = []
    for (let h = this.#buffer[this.#at]; h && seqOfKey(h[0]) <= size; h = this.#buffer[this.#at]) {
      this.#at++
      const [key, value] = h
      const treeSize = seqOfKey(key)
      const plain = this.#store.cipher.open(key, value)
      if (plain?.length !== 96) {
        this.#problem({
          kind: 'bad-signature',
          treeSize,
          message: `signed head of ${this.#origin} at size ${treeSize} fails authentication`,
        })
        continue
      }
      const { root, signature } = decodeHeadRecord(plain)
      const head = { origin: this.#origin, treeSize, root, signature }
      const publicKey = this.#store.originKey(this.#origin, treeSize)
      if (publicKey && !isTreeHeadSignatureValid(head, publicKey)) {
        this.#problem({
          kind: 'bad-signature',
          treeSize,
          message: `tree head of ${this.#origin} at size ${treeSize} is not signed by its origin`,
        })
        continue
      }
      if (treeSize === size) roots.push(root)
    }
    return roots
  }

  close(): Promise<void> {
    return this.#iterator.close()
  }
}

function headPrefix(tag: FeedTag): Buffer {
  return Buffer.concat([Buffer.of(PREFIX.head), tag])
}
