import { EhrlogError } from '../errors.ts'
import { EMPTY_HASH, INDEX_HASH_SIZE, keyBit, smtLeafHash, smtNodeHash } from './layout.ts'
import { SMT_KEY_SIZE, type SmtProof, type SmtTerminal } from './smt-proof.ts'

/*
 * An in-memory sparse Merkle tree over 256-bit keys (the canonical tree of smt-proof.ts).
 * Shape, for cheap incremental updates: the top `bits` levels are a complete binary tree in
 * two flat arrays (heap order: node i has children 2i and 2i+1, the root is 1); each of its
 * 2^bits bottom nodes is a bucket holding the leaves whose keys start with that prefix,
 * sorted, about one to two of them (keys are uniform: they are VRF outputs). set() only marks
 * the bucket dirty; root() rehashes each dirty bucket and then each dirty heap node once, so a
 * batch of u updates among n leaves costs about u * (log2(n) - log2(u)) + 2u hashes, and
 * empty or one-leaf subtrees cost none. `bits` grows with the leaf count (rebuild, amortised).
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

export class SparseMerkleTree {
  private bits = MIN_BITS
  /**
   * Leaf numbers per bucket, sorted by key; leaf i is pool[64i, 64i + 64). One flat pool
   * instead of a typed array per leaf: ~100 bytes less per leaf (a store's index holds
   * hundreds of thousands).
   */
  private buckets: number[][] = []
  private pool = new Uint8Array(LEAF_SIZE * 64)
  private kinds = new Uint8Array(0)
  private hashes = new Uint8Array(0)
  private readonly dirty = new Set<number>()
  private leafCount = 0

  constructor() {
    this.allocate(MIN_BITS)
    this.buckets = Array.from({ length: 1 << MIN_BITS }, () => [])
  }

  get size(): number {
    return this.leafCount
  }

  /** Gives back the leaf pool's spare room (after a bulk build; growth doubles it). */
  trim(): void {
    this.pool = this.pool.slice(0, Math.max(LEAF_SIZE, this.leafCount * LEAF_SIZE))
  }

  /** Sets the value hash of `key`'s leaf, adding the leaf if it is new. */
  set(key: Uint8Array, valueHash: Uint8Array): void {
    if (key.length !== SMT_KEY_SIZE || valueHash.length !== INDEX_HASH_SIZE) {
      throw new EhrlogError('ARGUMENT_INVALID', 'a tree key and value hash are 32 bytes each')
    }
    const b = this.bucketOf(key)
    const bucket = this.buckets[b]!
    const at = this.findSlotOf(bucket, key)
    if (at < bucket.length && this.compareLeaf(bucket[at]!, key) === 0) {
      this.pool.set(valueHash, bucket[at]! * LEAF_SIZE + SMT_KEY_SIZE)
    } else {
      const id = this.leafCount++
      if ((id + 1) * LEAF_SIZE > this.pool.length) {
        const grown = new Uint8Array(this.pool.length * 2)
        grown.set(this.pool)
        this.pool = grown
      }
      this.pool.set(key, id * LEAF_SIZE)
      this.pool.set(valueHash, id * LEAF_SIZE + SMT_KEY_SIZE)
      bucket.splice(at, 0, id)
    }
    this.dirty.add(b)
    if (this.leafCount > 2 << this.bits && this.bits < MAX_BITS) this.grow()
  }

  /** The value hash of `key`'s leaf, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    const bucket = this.buckets[this.bucketOf(key)]!
    const at = this.findSlotOf(bucket, key)
    const id = bucket[at]
    return id !== undefined && this.compareLeaf(id, key) === 0
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

  /** Views of a bucket's leaves in the pool (valid until the next new leaf). */
  private leavesOf(b: number): Leaf[] {
    return this.buckets[b]!.map((id) => this.leafView(id))
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

  /** Where `key` is or would go in a sorted bucket of leaf numbers. */
  private findSlotOf(bucket: readonly number[], key: Uint8Array): number {
    let i = 0
    while (i < bucket.length && this.compareLeaf(bucket[i]!, key) < 0) i++
    return i
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

  /** One more heap level: each bucket splits in two by the next key bit (still sorted). */
  private grow(): void {
    const old = this.buckets
    this.allocate(this.bits + 1)
    this.buckets = []
    for (const bucket of old) {
      let split = 0
      while (split < bucket.length && keyBit(this.leafView(bucket[split]!), this.bits - 1) === 0)
        split++
      this.buckets.push(bucket.slice(0, split), bucket.slice(split))
    }
    this.dirty.clear()
    for (let b = 0; b < this.buckets.length; b++) if (this.buckets[b]!.length > 0) this.dirty.add(b)
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
