import type { KeyObject } from 'node:crypto'
import { makeEntry } from '../../node/core/entry.ts'
import { MerkleBuilder } from '../../node/core/merkle/index.ts'
import { signTreeHead } from '../../node/core/tree-head.ts'
import type { FeedBatch } from '../../node/net/index.ts'
import { makeEvent } from '../helpers/fixtures.ts'

const START_MS = Date.UTC(2024, 0, 1)

/** Appends to one origin's feed the way a node does: real entries, chained, head signed. */
export class FeedWriter {
  private readonly builder = new MerkleBuilder()
  private prev: Uint8Array | undefined

  constructor(
    readonly origin: string,
    private readonly key: KeyObject,
  ) {}

  get size(): number {
    return this.builder.size
  }

  next(count: number): FeedBatch {
    const entries: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const seq = this.builder.size + 1
      const e = makeEntry(
        this.origin,
        seq,
        this.prev,
        'event',
        makeEvent(seq),
        new Date(START_MS + seq * 1000),
      )
      this.builder.append(e.hash)
      this.prev = e.hash
      entries.push(e.bytes)
    }
    const head = signTreeHead(this.key, this.origin, this.builder.size, this.builder.root())
    return { origin: this.origin, entries, head }
  }
}
