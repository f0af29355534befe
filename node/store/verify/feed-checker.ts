import { entryId } from '../../core/entry.ts'
import { bytesEqual, toHex } from '../../core/hex.ts'
import { HASH_SIZE, MerkleBuilder } from '../../core/merkle/index.ts'
import { type FeedTag, PREFIX, prefixRange, seqOfKey } from '../format/key-layout.ts'
import type { StoreAccess } from '../store-access.ts'
import {
  type CheckedRecords,
  RECORD_FOREIGN,
  RECORD_MISPLACED,
  RECORD_OK,
  RECORD_UNDECRYPTABLE,
} from './record-check.ts'
import type { FeedReport, KnownHead, Problem } from './report.ts'
import { SignedHeads, type Snapshot } from './signed-heads.ts'

/** Checks raw records of a feed: on a worker thread, or inline (record-check.ts). */
export type CheckRecords = (
  origin: string,
  records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
) => Promise<CheckedRecords>

/** A seq with no record; the other slot states are the RECORD_* codes of record-check.ts. */
const MISSING = 4
type SlotState = number

/** One seq position of a feed as found on disk; a record's results stay in `checked`. */
interface Slot {
  seq: number
  state: SlotState
  checked: CheckedRecords | undefined
  at: number
  /** A missing slot after the last record: the tail was cut. */
  tail: boolean
}

/** Records per read and per check job. */
const CHUNK = 1024
/** Enough for CHUNK records of ordinary size in one nextv (the default is 16 KiB). */
const READ_BYTES = 4 * 2 ** 20

/**
 * The sequential half of verifyReplica for one feed: gaps, links, the Merkle tree, signed
 * heads. Memory stays O(log n) plus the chunks in flight: a Merkle frontier, one slot of
 * lookahead (an entry's hash is confirmed by the next entry's `prev`) and a chunk of heads.
 * Reading chunk n+1 and checking chunks on workers overlap this thread's work on chunk n.
 */
export class FeedChecker {
  readonly #store: StoreAccess
  readonly #origin: string
  readonly #tag: FeedTag
  readonly #known: KnownHead | undefined
  readonly #addProblem: (p: Problem) => void
  readonly #check: CheckRecords
  readonly #inFlight: number
  readonly #builder = new MerkleBuilder()
  #rootsBroken = false
  #flaggedSinceHead = false
  #heads: SignedHeads | undefined
  #signedSize = 0

  constructor(
    store: StoreAccess,
    feed: { origin: string; tag: FeedTag; known: KnownHead | undefined },
    addProblem: (p: Problem) => void,
    check: CheckRecords,
    /** Check jobs to keep running ahead of this thread (0 when checking inline). */
    inFlight: number,
  ) {
    this.#store = store
    this.#origin = feed.origin
    this.#tag = feed.tag
    this.#known = feed.known
    this.#addProblem = addProblem
    this.#check = check
    this.#inFlight = inFlight
  }

  async run(onEntry: () => void): Promise<FeedReport> {
    // One snapshot for every read: an append landing meanwhile (a node scrubs while it takes
    // events) would otherwise show entries without their head, or heads without entries.
    const snapshot = this.#store.db.snapshot()
    try {
      return await this.#run(onEntry, snapshot)
    } finally {
      await snapshot.close()
    }
  }

  async #run(onEntry: () => void, snapshot: Snapshot): Promise<FeedReport> {
    this.#signedSize = await SignedHeads.latestSize(this.#store, this.#tag, snapshot)
    if (!this.#store.originKey(this.#origin, Math.max(1, this.#signedSize))) {
      this.#problem({
        kind: 'bad-signature',
        message: `no public key for origin ${this.#origin}: its heads cannot be checked`,
      })
    }
    const heads = new SignedHeads(
      this.#store,
      this.#origin,
      this.#tag,
      (p) => this.#problem(p),
      snapshot,
    )
    this.#heads = heads
    const entries = this.#store.db.iterator({
      ...prefixRange(Buffer.concat([Buffer.of(PREFIX.entry), this.#tag])),
      highWaterMarkBytes: READ_BYTES,
      snapshot,
      fillCache: false, // one pass over everything: keep the cache for the reads that serve requests
    })
    // Slots wait here until the slot after them is known; finalized in chunks so the
    // per-entry work stays synchronous and memory stays bounded.
    let slots: Slot[] = []
    const drain = async (all: boolean) => {
      const keep = all ? 0 : 1
      if (slots.length <= keep) return
      await heads.loadUpTo(slots[slots.length - 1 - keep]!.seq)
      for (let i = 0; i < slots.length - keep; i++) this.#finalize(slots[i]!, slots[i + 1])
      slots = slots.slice(slots.length - keep)
    }
    let want = 1
    let records = 0
    const missing = async (seq: number, tail: boolean) => {
      slots.push({ seq, state: MISSING, checked: undefined, at: 0, tail })
      if (slots.length >= CHUNK) await drain(false)
    }
    const jobs: Array<{ seqs: number[]; checked: Promise<CheckedRecords> }> = []
    const finishJob = async () => {
      const job = jobs.shift()!
      const checked = await job.checked
      for (let i = 0; i < job.seqs.length; i++) {
        const seq = job.seqs[i]!
        records++
        onEntry()
        for (; want < seq; want++) await missing(want, false)
        slots.push({ seq, state: checked.state[i]!, checked, at: i, tail: false })
        want = seq + 1
      }
      await drain(false)
    }
    let reading: Promise<Array<[Buffer, Buffer]>> | undefined = entries.nextv(CHUNK)
    try {
      for (let chunk = await reading; chunk.length > 0; chunk = await reading) {
        reading = entries.nextv(CHUNK) // the next read overlaps this chunk's checks
        const seqs = chunk.map(([key]) => seqOfKey(key))
        jobs.push({ seqs, checked: this.#check(this.#origin, chunk) })
        while (jobs.length > this.#inFlight) await finishJob()
      }
      reading = undefined
      while (jobs.length > 0) await finishJob()
      const end = Math.max(this.#signedSize, this.#known?.treeSize ?? 0)
      for (; want <= end; want++) await missing(want, true)
      await drain(true)
    } finally {
      await reading?.catch(() => {})
      for (const job of jobs) await job.checked.catch(() => {})
      await entries.close()
      await heads.close()
    }
    return {
      origin: this.#origin,
      entries: records,
      signedSize: this.#signedSize,
      rootsChecked: !this.#rootsBroken,
    }
  }

  /** Decides on `slot` now that the slot after it (which confirms its hash) is known. */
  #finalize(slot: Slot, next: Slot | undefined): void {
    // The authentic hash of this entry, as the following entry links to it.
    const linked = next && prevOf(next)
    const { seq, state } = slot
    let leaf: Uint8Array | undefined = linked
    if (seq > this.#coveredSize() && state !== MISSING) {
      this.#entryProblem(
        slot,
        linked,
        'inserted',
        `entry ${entryId(this.#origin, seq)} is not covered by any signed tree head of ${this.#origin}`,
      )
    } else if (state === MISSING) {
      this.#entryProblem(
        slot,
        linked,
        slot.tail ? 'truncated' : 'deleted',
        `entry ${entryId(this.#origin, seq)} is missing`,
      )
    } else if (state === RECORD_UNDECRYPTABLE) {
      this.#entryProblem(
        slot,
        linked,
        'modified',
        `entry ${entryId(this.#origin, seq)} fails authentication: its stored bytes were changed`,
      )
    } else if (state === RECORD_MISPLACED) {
      const claimed = entryId(this.#origin, slot.checked!.claimedSeq[slot.at]!)
      this.#entryProblem(
        slot,
        linked,
        'reordered',
        `the record at ${entryId(this.#origin, seq)} holds entry ${claimed}`,
      )
    } else if (state === RECORD_FOREIGN) {
      this.#entryProblem(
        slot,
        linked,
        'modified',
        `the record at ${entryId(this.#origin, seq)} holds an entry of another origin`,
      )
    } else if (linked && !linksTo(next!, slot)) {
      this.#entryProblem(
        slot,
        linked,
        'modified',
        `entry ${entryId(this.#origin, seq)} has hash ${toHex(hashOf(slot))}, the next entry links to ${toHex(linked)}`,
      )
    } else {
      leaf = hashOf(slot)
    }
    if (!leaf) {
      this.#rootsBroken = true
    } else if (!this.#rootsBroken) {
      const nodes = this.#builder.append(leaf)
      // Only where the next entry confirmed this leaf: else a mismatch is the symptom of a
      // changed last entry, which the root check names. Derived data: no entry id is named.
      if (linked && state === RECORD_OK && !sameUpperNodes(nodes, slot)) {
        this.#problem({
          kind: 'tree-node',
          seq,
          message: `the tree nodes stored with entry ${entryId(this.#origin, seq)} are not the ones the entries give`,
        })
      }
    }
    this.#checkHeads(slot, next)
  }

  #entryProblem(
    slot: Slot,
    linked: Uint8Array | undefined,
    kind: Problem['kind'],
    message: string,
  ): void {
    this.#flaggedSinceHead = true
    this.#problem({
      kind,
      seq: slot.seq,
      entryId: entryId(this.#origin, slot.seq),
      ...(linked ? { expectedHash: toHex(linked) } : {}),
      message,
    })
  }

  /** Entries up to this size are covered by a signed head or a known (cosigned) head. */
  #coveredSize(): number {
    return Math.max(this.#signedSize, this.#known?.treeSize ?? 0)
  }

  /** Compares the root at this slot's seq with each valid signed head (and a known head) there. */
  #checkHeads(slot: Slot, next: Slot | undefined): void {
    for (const root of this.#heads!.takeUpTo(slot.seq))
      this.#compareRoot(slot, next, root, 'signed head')
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
    if (!next && !this.#flaggedSinceHead && slot.state === RECORD_OK) {
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

/** The leaf hash of an authentic record (views into its chunk's results). */
function hashOf(slot: Slot): Uint8Array {
  const at = slot.at * HASH_SIZE
  return slot.checked!.hashes.subarray(at, at + HASH_SIZE)
}

/** Whether `next`'s prev is `slot`'s hash (both authentic records), compared in place. */
function linksTo(next: Slot, slot: Slot): boolean {
  const prevs = next.checked!.prevs
  const hashes = slot.checked!.hashes
  const p = next.at * HASH_SIZE
  const h = slot.at * HASH_SIZE
  for (let i = 0; i < HASH_SIZE; i++) if (prevs[p + i] !== hashes[h + i]) return false
  return true
}

/** The hash an authentic record at its own seq links back to, if it names one. */
function prevOf(slot: Slot): Uint8Array | undefined {
  if (slot.state !== RECORD_OK || slot.checked!.hasPrev[slot.at] !== 1) return undefined
  const at = slot.at * HASH_SIZE
  return slot.checked!.prevs.subarray(at, at + HASH_SIZE)
}

/** Whether the record stored exactly the tree nodes above level 0 that its leaf completed. */
function sameUpperNodes(
  computed: ReadonlyArray<{ level: number; hash: Uint8Array }>,
  slot: Slot,
): boolean {
  const { nodeEnds, nodes } = slot.checked!
  const start = slot.at === 0 ? 0 : nodeEnds[slot.at - 1]!
  if (nodeEnds[slot.at]! - start !== computed.length - 1) return false
  for (let i = 1; i < computed.length; i++) {
    const at = (start + i - 1) * HASH_SIZE
    if (!bytesEqual(computed[i]!.hash, nodes.subarray(at, at + HASH_SIZE))) return false
  }
  return true
}
