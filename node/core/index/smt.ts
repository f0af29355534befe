import { EhrlogError } from '../errors.ts'
import { EMPTY_HASH, INDEX_HASH_SIZE, keyBit, smtLeafHash, smtNodeHash } from './layout.ts'
import { SMT_KEY_SIZE, type SmtProof, type SmtTerminal } from './smt-proof.ts'

/*
 * An in-memory sparse Merkle tree over 256-bit keys (the canonical tree of smt-proof.ts).
 * Shape, for cheap incremental updates: the top `bits` levels are a complete binary tree in
 * two flat arrays (heap order: node i has children 2i and 2i+1, the root is 1); each of its
 * 2^bits bottom nodes is a bucket holding the leaves whose keys start with that prefix,
 * about two to four of them (keys are uniform: they are VRF outputs). The leaves are one
 * flat pool (leaf i: pool[64i, 64i + 64)) and one array of leaf numbers sorted by key
 * (`order`); bucket b is order[start[b], start[b + 1]). No object per bucket or per leaf:
 * 68 bytes a leaf and 36 a bucket (a store's index holds hundreds of thousands).
 *
 * set() of a known key writes its value in place; a new key is appended to the pool and
 * merged into `order` at the next flush, all new keys of a batch in one pass. set() only
 * marks buckets dirty; root() rehashes each dirty bucket and then each dirty heap node once,
 * so a batch of u updates among n leaves costs about u * (log2(n) - log2(u)) + 4u hashes,
 * and empty or one-leaf subtrees cost none. `bits` grows with the leaf count.
 */

const EMPTY = 0
const SINGLE = 1
const MANY = 2

interface Subtree {
  kind: number
  hash: Uint8Array
}

const EMPTY_SUBTREE: Subtree = { kind: EMPTY, hash: EMPTY_HASH }

/** The canonical combination: empty+empty is empty, one leaf beside nothing stays that leaf. */
function combine(left: Subtree, right: Subtree): Subtree {
  if (left.kind === EMPTY && right.kind !== MANY) return right
  if (right.kind === EMPTY && left.kind !== MANY) return left
  return { kind: MANY, hash: smtNodeHash(left.hash, right.hash) }
}

/** A leaf record: key[32] || value hash[32]; in the tree, a view into its leaf pool. */
type Leaf = Uint8Array
const LEAF_SIZE = SMT_KEY_SIZE + INDEX_HASH_SIZE

const MIN_BITS = 4
const MAX_BITS = 18
/** The heap gains a level when the leaves pass this many per bucket on average. */
const LEAVES_PER_BUCKET = 4

export class SparseMerkleTree {
  private bits = MIN_BITS
  private pool = new Uint8Array(LEAF_SIZE * 64)
  /** Leaf numbers of the merged leaves, sorted by key. */
  private order = new Uint32Array(64)
  private merged = 0
  /** Bucket b's leaves are order[start[b], start[b + 1]). */
  private start = new Uint32Array((1 << MIN_BITS) + 1)
  /** Leaf numbers set since the last flush whose keys were not in `order` (unsorted). */
  private added: number[] = []
  private kinds = new Uint8Array(0)
  private hashes = new Uint8Array(0)
  private readonly dirty = new Set<number>()
  /** Leaves in the pool (merged and added; a key added twice before a flush wastes one). */
  private leafCount = 0

  constructor() {
    this.allocate(MIN_BITS)
  }

  get size(): number {
    this.merge()
    return this.merged
  }

  /** Gives back the leaf pool's spare room (after a bulk build; growth doubles it). */
  trim(): void {
    this.merge()
    this.pool = this.pool.slice(0, Math.max(LEAF_SIZE, this.leafCount * LEAF_SIZE))
    this.order = this.order.slice(0, Math.max(1, this.merged))
  }

  /** Sets the value hash of `key`'s leaf, adding the leaf if it is new. */
  set(key: Uint8Array, valueHash: Uint8Array): void {
    if (key.length !== SMT_KEY_SIZE || valueHash.length !== INDEX_HASH_SIZE) {
      throw new EhrlogError('ARGUMENT_INVALID', 'a tree key and value hash are 32 bytes each')
    }
    const b = this.bucketOf(key)
    const id = this.find(b, key)
    if (id >= 0) {
      this.pool.set(valueHash, id * LEAF_SIZE + SMT_KEY_SIZE)
    } else {
      const added = this.leafCount++
      if ((added + 1) * LEAF_SIZE > this.pool.length) {
        const grown = new Uint8Array(this.pool.length * 2)
        grown.set(this.pool)
        this.pool = grown
      }
      this.pool.set(key, added * LEAF_SIZE)
      this.pool.set(valueHash, added * LEAF_SIZE + SMT_KEY_SIZE)
      this.added.push(added)
    }
    this.dirty.add(b)
  }

  /** The value hash of `key`'s leaf, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.merge()
    const id = this.find(this.bucketOf(key), key)
    return id >= 0
      ? this.pool.slice(id * LEAF_SIZE + SMT_KEY_SIZE, (id + 1) * LEAF_SIZE)
      : undefined
  }

  /** The root hash (EMPTY_HASH for no leaves), rehashing what changed since the last call. */
  root(): Uint8Array {
    this.flush()
    return this.hashes.slice(INDEX_HASH_SIZE, 2 * INDEX_HASH_SIZE)
  }

  /**
   * The root the tree would have with `changes` (key, value hash) set, leaving the tree as it
   * is: the changed buckets and their ancestors are rehashed into an overlay, each once, so an
   * overlay of u leaves costs what root() after u set() calls would. Keys of new leaves are
   * inserted in the overlay only. Used for a root at a size above the committed one.
   */
  rootWith(changes: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): Uint8Array {
    this.flush()
    if (changes.length === 0) return this.hashes.slice(INDEX_HASH_SIZE, 2 * INDEX_HASH_SIZE)
    const byBucket = new Map<number, Leaf[]>()
    for (const [key, valueHash] of changes) {
      if (key.length !== SMT_KEY_SIZE || valueHash.length !== INDEX_HASH_SIZE) {
        throw new EhrlogError('ARGUMENT_INVALID', 'a tree key and value hash are 32 bytes each')
      }
      const b = this.bucketOf(key)
      let leaves = byBucket.get(b)
      if (!leaves) {
        leaves = this.leavesOf(b)
        byBucket.set(b, leaves)
      }
      const at = findSlot(leaves, key)
      const leaf = new Uint8Array(SMT_KEY_SIZE + INDEX_HASH_SIZE)
      leaf.set(key)
      leaf.set(valueHash, SMT_KEY_SIZE)
      if (at < leaves.length && compareKey(leaves[at]!, key) === 0) leaves[at] = leaf
      else leaves.splice(at, 0, leaf)
    }
    const base = 1 << this.bits
    const overlay = new Map<number, Subtree>()
    let level = new Set<number>()
    for (const [b, leaves] of byBucket) {
      overlay.set(base + b, subtreeOf(leaves, this.bits))
      level.add((base + b) >> 1)
    }
    const at = (node: number): Subtree => overlay.get(node) ?? this.nodeAt(node)
    while (level.size > 0) {
      const up = new Set<number>()
      for (const node of level) {
        overlay.set(node, combine(at(node * 2), at(node * 2 + 1)))
        if (node > 1) up.add(node >> 1)
      }
      level = up
    }
    return Uint8Array.from(at(1).hash)
  }

  /** The proof for `key`: of its leaf if it has one, else of its absence (smt-proof.ts). */
  prove(key: Uint8Array): SmtProof {
    this.flush()
    const siblings: Uint8Array[] = []
    let node = 1
    for (let depth = 0; depth < this.bits; depth++) {
      const kind = this.kinds[node]!
      if (kind !== MANY) return { siblings, terminal: this.terminalBelow(node, depth, key) }
      const bit = keyBit(key, depth)
      siblings.push(this.hashAt(node * 2 + 1 - bit))
      node = node * 2 + bit
    }
    return this.proveInBucket(this.leavesOf(this.bucketOf(key)), this.bits, key, siblings)
  }

  /** The terminal for a heap node holding at most one leaf. */
  private terminalBelow(node: number, depth: number, key: Uint8Array): SmtTerminal {
    if (this.kinds[node] === EMPTY) return { kind: 'empty' }
    // One leaf below: follow the non-empty child down to its bucket.
    let n = node
    for (let d = depth; d < this.bits; d++) n = this.kinds[n * 2] === SINGLE ? n * 2 : n * 2 + 1
    const leaf = this.leavesOf(n - (1 << this.bits))[0]!
    return terminalFor(leaf, key)
  }

  private proveInBucket(
    leaves: Leaf[],
    depth: number,
    key: Uint8Array,
    siblings: Uint8Array[],
  ): SmtProof {
    if (leaves.length === 0) return { siblings, terminal: { kind: 'empty' } }
    if (leaves.length === 1) return { siblings, terminal: terminalFor(leaves[0]!, key) }
    const split = splitAt(leaves, depth)
    const bit = keyBit(key, depth)
    const [mine, other] =
      bit === 0
        ? [leaves.slice(0, split), leaves.slice(split)]
        : [leaves.slice(split), leaves.slice(0, split)]
    siblings.push(subtreeOf(other, depth + 1).hash)
    return this.proveInBucket(mine, depth + 1, key, siblings)
  }

  private hashAt(node: number): Uint8Array {
    return this.hashes.slice(node * INDEX_HASH_SIZE, (node + 1) * INDEX_HASH_SIZE)
  }

  private setNode(node: number, subtree: Subtree): void {
    this.kinds[node] = subtree.kind
    this.hashes.set(subtree.hash, node * INDEX_HASH_SIZE)
  }

  /** A view, not a copy: flush() reads two children and writes their parent elsewhere. */
  private nodeAt(node: number): Subtree {
    const kind = this.kinds[node]!
    if (kind === EMPTY) return EMPTY_SUBTREE
    return {
      kind,
      hash: this.hashes.subarray(node * INDEX_HASH_SIZE, (node + 1) * INDEX_HASH_SIZE),
    }
  }

  /** Rehashes the dirty buckets, then their ancestors level by level, each node once. */
  private flush(): void {
    this.merge()
    if (this.dirty.size === 0) return
    const base = 1 << this.bits
    let level = new Set<number>()
    for (const b of this.dirty) {
      this.setNode(base + b, subtreeOf(this.leavesOf(b), this.bits))
      level.add((base + b) >> 1)
    }
    this.dirty.clear()
    while (level.size > 0) {
      const up = new Set<number>()
      for (const node of level) {
        this.setNode(node, combine(this.nodeAt(node * 2), this.nodeAt(node * 2 + 1)))
        if (node > 1) up.add(node >> 1)
      }
      level = up
    }
  }

  /**
   * Merges the added leaves into `order` (sorted; of a key added twice, the later value
   * wins), grows the heap if the buckets got too full, and recounts the bucket starts.
   */
  private merge(): void {
    if (this.added.length === 0) return
    const pool = this.pool
    const cmp = (a: number, b: number): number => {
      const x = a * LEAF_SIZE
      const y = b * LEAF_SIZE
      for (let i = 0; i < SMT_KEY_SIZE; i++) {
        const d = pool[x + i]! - pool[y + i]!
        if (d !== 0) return d
      }
      return b - a // equal keys: the later leaf first, so the earlier one is dropped below
    }
    const added = this.added.sort(cmp)
    this.added = []
    const total = this.merged + added.length
    const order = new Uint32Array(Math.max(64, this.order.length, total))
    let i = 0
    let j = 0
    let n = 0
    while (i < this.merged || j < added.length) {
      let next: number
      if (j >= added.length) next = this.order[i++]!
      else if (i >= this.merged) next = added[j++]!
      else next = cmp(this.order[i]!, added[j]!) <= 0 ? this.order[i++]! : added[j++]!
      // A repeat of the previous key (added twice since the last flush): keep the first seen.
      if (n > 0 && this.compareLeaves(order[n - 1]!, next) === 0) continue
      order[n++] = next
    }
    this.order = order
    this.merged = n
    let bits = this.bits
    while (n > LEAVES_PER_BUCKET << bits && bits < MAX_BITS) bits++
    const grew = bits !== this.bits
    if (grew) this.allocate(bits)
    const buckets = 1 << this.bits
    this.start = new Uint32Array(buckets + 1)
    for (let k = 0; k < n; k++) this.start[this.bucketOf(this.leafView(order[k]!)) + 1]!++
    for (let b = 0; b < buckets; b++) this.start[b + 1]! += this.start[b]!
    if (grew) {
      // Every bucket is new: the dirty ones were numbered at the old depth.
      this.dirty.clear()
      for (let b = 0; b < buckets; b++) if (this.start[b + 1]! > this.start[b]!) this.dirty.add(b)
    }
  }

  /** Views of a bucket's leaves in the pool (valid until the next new leaf). */
  private leavesOf(b: number): Leaf[] {
    const out: Leaf[] = []
    for (let k = this.start[b]!; k < this.start[b + 1]!; k++)
      out.push(this.leafView(this.order[k]!))
    return out
  }

  private leafView(id: number): Leaf {
    return this.pool.subarray(id * LEAF_SIZE, (id + 1) * LEAF_SIZE)
  }

  /** Compares leaf `id`'s key with `key`. */
  private compareLeaf(id: number, key: Uint8Array): number {
    const at = id * LEAF_SIZE
    for (let i = 0; i < SMT_KEY_SIZE; i++) {
      const d = this.pool[at + i]! - key[i]!
      if (d !== 0) return d
    }
    return 0
  }

  private compareLeaves(a: number, b: number): number {
    return this.compareLeaf(a, this.pool.subarray(b * LEAF_SIZE, b * LEAF_SIZE + SMT_KEY_SIZE))
  }

  /** The leaf number of `key` among the merged leaves of bucket `b`, or -1. */
  private find(b: number, key: Uint8Array): number {
    for (let k = this.start[b]!; k < this.start[b + 1]!; k++) {
      const d = this.compareLeaf(this.order[k]!, key)
      if (d === 0) return this.order[k]!
      if (d > 0) break
    }
    return -1
  }

  private bucketOf(key: Uint8Array): number {
    const top = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0
    return top >>> (32 - this.bits)
  }

  private allocate(bits: number): void {
    this.bits = bits
    this.kinds = new Uint8Array(2 << bits)
    this.hashes = new Uint8Array((2 << bits) * INDEX_HASH_SIZE)
  }
}

/** Terminal for a lone leaf at the end of `key`'s path. */
function terminalFor(leaf: Leaf, key: Uint8Array): SmtTerminal {
  if (compareKey(leaf, key) === 0) return { kind: 'key' }
  return { kind: 'other', key: leaf.slice(0, SMT_KEY_SIZE), valueHash: leaf.slice(SMT_KEY_SIZE) }
}

/** The canonical subtree of sorted leaves sharing a prefix of `depth` bits. */
export function subtreeOf(leaves: readonly Leaf[], depth: number): Subtree {
  if (leaves.length === 0) return EMPTY_SUBTREE
  if (leaves.length === 1) {
    const leaf = leaves[0]!
    return {
      kind: SINGLE,
      hash: smtLeafHash(leaf.subarray(0, SMT_KEY_SIZE), leaf.subarray(SMT_KEY_SIZE)),
    }
  }
  const split = splitAt(leaves, depth)
  return combine(
    subtreeOf(leaves.slice(0, split), depth + 1),
    subtreeOf(leaves.slice(split), depth + 1),
  )
}

/** The first index whose key has bit `depth` set (sorted leaves sharing the bits above). */
function splitAt(leaves: readonly Leaf[], depth: number): number {
  let i = 0
  while (i < leaves.length && keyBit(leaves[i]!, depth) === 0) i++
  return i
}

/** Where `key` is or would go in a sorted bucket. */
function findSlot(bucket: readonly Leaf[], key: Uint8Array): number {
  let i = 0
  while (i < bucket.length && compareKey(bucket[i]!, key) < 0) i++
  return i
}

/** Compares a leaf's key (its first 32 bytes) with `key`. */
function compareKey(leaf: Uint8Array, key: Uint8Array): number {
  for (let i = 0; i < SMT_KEY_SIZE; i++) {
    if (leaf[i] !== key[i]) return leaf[i]! - key[i]!
  }
  return 0
}
