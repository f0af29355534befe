import type { ClassicLevel } from 'classic-level'
import { chainFieldsOf, entryId } from '../core/entry.ts'
import { bytesEqual, fromHex, toHex } from '../core/hex.ts'
import { GENESIS_PREV } from '../core/layout.ts'
import { hashLeaf, MerkleBuilder } from '../core/merkle/index.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead } from '../core/tree-head.ts'
import { type FeedTag, PREFIX, prefixRange, seqOfKey } from './key-layout.ts'
import type { StoreInternals } from './log-store.ts'
import { decodeEntryRecord, decodeHeadRecord } from './records.ts'

/**
 * What can be wrong with a replica, per entry or per signed tree head:
 * - modified: the value fails authentication, or its hash is not what the next entry links to
 * - deleted: no entry where the feed has one
 * - truncated: entries missing at the tail, below the latest signed or a known tree head
 * - inserted: an entry no signed tree head covers
 * - reordered: an entry stored under another entry's seq
 * - bad-signature: a tree head not signed by its origin's key
 * - root-mismatch: the entries give another root than a signed or known head
 * - unreadable-feed: the feed record itself fails authentication
 * - tree-node: Merkle nodes stored with an entry differ from what the entries give (derived
 *   data, rebuilt by a repair; the entry itself is intact)
 */
export type ProblemKind =
  | 'modified'
  | 'deleted'
  | 'truncated'
  | 'inserted'
  | 'reordered'
  | 'bad-signature'
  | 'root-mismatch'
  | 'unreadable-feed'
  | 'tree-node'

export interface Problem {
  kind: ProblemKind
  origin: string
  /** Entry problems name the entry; head problems the tree size. */
  seq?: number
  entryId?: string
  /** The authentic entry hash where the chain tells it (what a repair must restore). */
  expectedHash?: string
  treeSize?: number
  message: string
}

export interface FeedReport {
  origin: string
  /** Entry records present. */
  entries: number
  /** Size of the latest signed tree head. */
  signedSize: number
  /** Whether roots could be recomputed through the whole feed. */
  rootsChecked: boolean
}

export interface VerifyReport {
  ok: boolean
  entriesChecked: number
  feeds: FeedReport[]
  problems: Problem[]
  /** Problems beyond maxProblems, counted but not listed (memory stays bounded). */
  problemsOmitted: number
}

export interface KnownHead {
  treeSize: number
  root: Uint8Array
}

export interface VerifyOptions {
  /** Tree heads learned elsewhere (a cosigned checkpoint): catches a rolled-back tail. */
  knownHeads?: ReadonlyMap<string, KnownHead>
  onProgress?: (entriesChecked: number) => void
  maxProblems?: number
}

/** One seq position of a feed as found on disk. */
interface Slot {
  seq: number
  state: 'ok' | 'missing' | 'undecryptable' | 'misplaced' | 'foreign'
  hash?: Uint8Array
  /** prev of the entry, when it sits at its own seq. */
  prev?: Uint8Array
  nodes?: Uint8Array[]
  claimedSeq?: number
  /** A missing slot after the last record: the tail was cut. */
  tail?: boolean
}

const PROGRESS_EVERY = 10_000
const CHUNK = 1000

/**
 * Streams through every feed of an open store and names each damaged entry by origin, seq
 * and entry id. Memory stays O(log n) per feed: a Merkle frontier, one slot of lookahead
 * (an entry's hash is confirmed by the next entry's `prev`) and the heads of one size.
 */
export async function verifyReplica(
  store: StoreInternals,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    entriesChecked: 0,
    feeds: [],
    problems: [],
    problemsOmitted: 0,
  }
  const maxProblems = opts.maxProblems ?? 10_000
  const addProblem = (p: Problem) => {
    report.ok = false
    if (report.problems.length < maxProblems) report.problems.push(p)
    else report.problemsOmitted++
  }
  for await (const [key, value] of store.db.iterator(prefixRange(Buffer.of(PREFIX.feed)))) {
    if (!store.cipher.open(key, value)) {
      addProblem({
        kind: 'unreadable-feed',
        origin: `tag:${key.subarray(1).toString('hex')}`,
        message: 'feed record fails authentication',
      })
    }
  }
  for (const feed of [...store.feeds.values()].sort((a, b) => a.origin.localeCompare(b.origin))) {
    const checker = new FeedChecker(
      store,
      feed.origin,
      feed.tag,
      opts.knownHeads?.get(feed.origin),
      addProblem,
    )
    report.feeds.push(
      await checker.run(() => {
        report.entriesChecked++
        if (report.entriesChecked % PROGRESS_EVERY === 0) opts.onProgress?.(report.entriesChecked)
      }),
    )
  }
  opts.onProgress?.(report.entriesChecked)
  return report
}

class FeedChecker {
  readonly #store: StoreInternals
  readonly #origin: string
  readonly #tag: FeedTag
  readonly #known: KnownHead | undefined
  readonly #addProblem: (p: Problem) => void
  readonly #publicKey: Uint8Array | undefined
  readonly #builder = new MerkleBuilder()
  #rootsBroken = false
  #flaggedSinceHead = false
  #heads: ReturnType<ClassicLevel<Buffer, Buffer>['iterator']> | undefined
  #headBuffer: Array<[Buffer, Buffer]> = []
  #headAt = 0
  #headsDone = false
  #signedSize = 0

  constructor(
    store: StoreInternals,
    origin: string,
    tag: FeedTag,
    known: KnownHead | undefined,
    addProblem: (p: Problem) => void,
  ) {
    this.#store = store
    this.#origin = origin
    this.#tag = tag
    this.#known = known
    this.#addProblem = addProblem
    this.#publicKey = store.originKey(origin)
  }

  async run(onEntry: () => void): Promise<FeedReport> {
    const db = this.#store.db
    const headPrefix = Buffer.concat([Buffer.of(PREFIX.head), this.#tag])
    const lastHead = await db.keys({ ...prefixRange(headPrefix), reverse: true, limit: 1 }).all()
    this.#signedSize = lastHead[0] ? seqOfKey(lastHead[0]) : 0
    if (!this.#publicKey) {
      this.#problem({
        kind: 'bad-signature',
        message: `no public key for origin ${this.#origin}: its heads cannot be checked`,
      })
    }
    this.#heads = db.iterator(prefixRange(headPrefix))
    const entries = db.iterator(prefixRange(Buffer.concat([Buffer.of(PREFIX.entry), this.#tag])))
    // Slots wait here until the slot after them is known; finalized in chunks so the
    // per-entry work stays synchronous and memory stays bounded (CHUNK slots at most).
    let slots: Slot[] = []
    const drain = async (all: boolean) => {
      const keep = all ? 0 : 1
      if (slots.length <= keep) return
      await this.#loadHeadsUpTo(slots[slots.length - 1 - keep]!.seq)
      for (let i = 0; i < slots.length - keep; i++) this.#finalize(slots[i]!, slots[i + 1])
      slots = slots.slice(slots.length - keep)
    }
    let want = 1
    let records = 0
    try {
      for (
        let chunk = await entries.nextv(CHUNK);
        chunk.length > 0;
        chunk = await entries.nextv(CHUNK)
      ) {
        for (const [key, value] of chunk) {
          const seq = seqOfKey(key)
          records++
          onEntry()
          for (; want < seq; want++) {
            slots.push({ seq: want, state: 'missing' })
            if (slots.length >= CHUNK) await drain(false)
          }
          slots.push(this.#readSlot(seq, key, value))
          want = seq + 1
        }
        await drain(false)
      }
      const end = Math.max(this.#signedSize, this.#known?.treeSize ?? 0)
      for (; want <= end; want++) {
        slots.push({ seq: want, state: 'missing', tail: true })
        if (slots.length >= CHUNK) await drain(false)
      }
      await drain(true)
    } finally {
      await entries.close()
      await this.#heads.close()
    }
    return {
      origin: this.#origin,
      entries: records,
      signedSize: this.#signedSize,
      rootsChecked: !this.#rootsBroken,
    }
  }

  /** Buffers signed heads until one beyond `seq` (or the last) is in. */
  async #loadHeadsUpTo(seq: number): Promise<void> {
    while (!this.#headsDone) {
      const last = this.#headBuffer[this.#headBuffer.length - 1]
      if (last && seqOfKey(last[0]) > seq) return
      const more = (await this.#heads!.nextv(CHUNK)) as Array<[Buffer, Buffer]>
      if (more.length === 0) this.#headsDone = true
      this.#headBuffer = this.#headBuffer.slice(this.#headAt).concat(more)
      this.#headAt = 0
    }
  }

  #readSlot(seq: number, key: Buffer, value: Buffer): Slot {
    const plain = this.#store.cipher.open(key, value)
    if (!plain) return { seq, state: 'undecryptable' }
    try {
      const record = decodeEntryRecord(plain)
      const hash = hashLeaf(record.entryBytes)
      const fields = chainFieldsOf(record.entryBytes)
      if (!fields) return { seq, state: 'undecryptable' }
      if (fields.origin !== this.#origin) return { seq, state: 'foreign', hash }
      if (fields.seq !== seq) return { seq, state: 'misplaced', hash, claimedSeq: fields.seq }
      const prev = fields.prev === GENESIS_PREV ? undefined : fromHex(fields.prev, 32)
      return { seq, state: 'ok', hash, ...(prev ? { prev } : {}), nodes: record.nodes }
    } catch {
      return { seq, state: 'undecryptable' }
    }
  }

  /** Decides on `slot` now that the slot after it (which confirms its hash) is known. */
  #finalize(slot: Slot, next: Slot | undefined): void {
    const id = entryId(this.#origin, slot.seq)
    // The authentic hash of this entry, as the following entry links to it.
    const linked = next?.state === 'ok' ? next.prev : undefined
    const expectedHash = linked ? toHex(linked) : undefined
    const entryProblem = (kind: Problem['kind'], message: string) => {
      this.#flaggedSinceHead = true
      this.#problem({
        kind,
        seq: slot.seq,
        entryId: id,
        ...(expectedHash ? { expectedHash } : {}),
        message,
      })
    }
    let leaf: Uint8Array | undefined = linked
    if (slot.seq > this.#coveredSize() && slot.state !== 'missing') {
      entryProblem(
        'inserted',
        `entry ${id} is not covered by any signed tree head of ${this.#origin}`,
      )
    } else if (slot.state === 'missing') {
      entryProblem(slot.tail ? 'truncated' : 'deleted', `entry ${id} is missing`)
    } else if (slot.state === 'undecryptable') {
      entryProblem('modified', `entry ${id} fails authentication: its stored bytes were changed`)
    } else if (slot.state === 'misplaced') {
      entryProblem(
        'reordered',
        `the record at ${id} holds entry ${entryId(this.#origin, slot.claimedSeq!)}`,
      )
    } else if (slot.state === 'foreign') {
      entryProblem('modified', `the record at ${id} holds an entry of another origin`)
    } else if (linked && !bytesEqual(linked, slot.hash!)) {
      entryProblem(
        'modified',
        `entry ${id} has hash ${toHex(slot.hash!)}, the next entry links to ${toHex(linked)}`,
      )
    } else {
      leaf = slot.hash
    }
    if (!leaf) {
      this.#rootsBroken = true
    } else if (!this.#rootsBroken) {
      const nodes = this.#builder.append(leaf)
      // Only where the next entry confirmed this leaf: else a mismatch is the symptom of a
      // changed last entry, which the root check names. Derived data: no entry id is named.
      if (linked && slot.state === 'ok' && !this.#sameUpperNodes(nodes, slot.nodes ?? [])) {
        this.#problem({
          kind: 'tree-node',
          seq: slot.seq,
          message: `the tree nodes stored with entry ${id} are not the ones the entries give`,
        })
      }
    }
    this.#checkHeads(slot, next)
  }

  /** Entries up to this size are covered by a signed head or a known (cosigned) head. */
  #coveredSize(): number {
    return Math.max(this.#signedSize, this.#known?.treeSize ?? 0)
  }

  #sameUpperNodes(
    computed: ReadonlyArray<{ level: number; hash: Uint8Array }>,
    stored: Uint8Array[],
  ): boolean {
    const upper = computed.filter((n) => n.level > 0)
    return upper.length === stored.length && upper.every((n, i) => bytesEqual(n.hash, stored[i]!))
  }

  /** Checks every signed head (and a known head) whose size is this slot's seq. */
  #checkHeads(slot: Slot, next: Slot | undefined): void {
    for (
      let h = this.#headBuffer[this.#headAt];
      h && seqOfKey(h[0]) <= slot.seq;
      h = this.#headBuffer[this.#headAt]
    ) {
      this.#headAt++
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
      const head: SignedTreeHead = { origin: this.#origin, treeSize, root, signature }
      if (this.#publicKey && !isTreeHeadSignatureValid(head, this.#publicKey)) {
        // A forged head is no evidence about the entries: its root is not compared.
        this.#problem({
          kind: 'bad-signature',
          treeSize,
          message: `tree head of ${this.#origin} at size ${treeSize} is not signed by its origin`,
        })
        continue
      }
      if (treeSize === slot.seq) this.#compareRoot(slot, next, root, 'signed head')
    }
    if (this.#known && this.#known.treeSize === slot.seq)
      this.#compareRoot(slot, next, this.#known.root, 'known head')
  }

  #compareRoot(slot: Slot, next: Slot | undefined, root: Uint8Array, what: string): void {
    if (this.#rootsBroken) return
    const ours = this.#builder.root()
    if (bytesEqual(ours, root)) {
      this.#flaggedSinceHead = false
      return
    }
    // Every entry but the last one present is confirmed by its successor's link; a root that
    // differs with nothing flagged means that last entry was changed.
    if (!next && !this.#flaggedSinceHead && slot.state === 'ok') {
      const id = entryId(this.#origin, slot.seq)
      this.#problem({
        kind: 'modified',
        seq: slot.seq,
        entryId: id,
        message: `entry ${id} does not give the root of the ${what} at size ${slot.seq}`,
      })
    } else if (!this.#flaggedSinceHead) {
      this.#problem({
        kind: 'root-mismatch',
        treeSize: slot.seq,
        message: `entries give root ${toHex(ours)}, the ${what} at size ${slot.seq} says ${toHex(root)}`,
      })
    }
    this.#flaggedSinceHead = false
  }

  #problem(p: Omit<Problem, 'origin'>): void {
    this.#addProblem({ origin: this.#origin, ...p })
  }
}
