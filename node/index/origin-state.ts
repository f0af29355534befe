import type { OriginIndexProof } from '../core/index/completeness.ts'
import {
  chainNext,
  chainNextInPlace,
  EMPTY_HASH,
  INDEX_HASH_SIZE,
  indexKey,
  indexSalt,
  indexValueHash,
} from '../core/index/layout.ts'
import { SparseMerkleTree } from '../core/index/smt.ts'
import type { Patients } from './patients.ts'

/**
 * One origin's index in compact form: the tree at the committed size, each patient's leaf
 * there as (count, chain) in flat typed arrays (leaf i: counts[i], chains[32i..32i+32)),
 * and the patients of the entries after it (`pending`, slot or -1 per seq). A leaf's key and
 * salt are not kept: two hashes of beta each time the leaf changes, cheaper than 64 bytes a
 * leaf. The root at a larger size is an overlay of the leaves changed since (rootAt), so the
 * committed tree, which answers proofs, never moves until commit().
 */
export class OriginState {
  readonly origin: string
  committed = 0
  readonly tree = new SparseMerkleTree()
  /** Leaf number + 1 of each patient slot at the committed size (0: no leaf). */
  #leafOf: Int32Array = new Int32Array(1024)
  #counts: Uint32Array = new Uint32Array(1024)
  #chains: Uint8Array = new Uint8Array(1024 * INDEX_HASH_SIZE)
  #leaves = 0
  #pending: Int32Array = new Int32Array(1024)
  #pendingLength = 0

  constructor(origin: string, committed = 0) {
    this.origin = origin
    this.committed = committed
  }

  /** Entries the index has heard of: committed ones and pending ones. */
  get known(): number {
    return this.committed + this.#pendingLength
  }

  get leafCount(): number {
    return this.#leaves
  }

  /** Appends the next entry (seq known + 1): its patient slot, or -1 for no patient. */
  push(slot: number): void {
    if (this.#pendingLength === this.#pending.length) this.#pending = grow32(this.#pending)
    this.#pending[this.#pendingLength++] = slot
  }

  /** Sets the patient of pending seq `seq` (rebuilds fill pending out of order: size it first). */
  setPending(seq: number, slot: number): void {
    this.#pending[seq - this.committed - 1] = slot
  }

  /** Room for pending entries up to `size`, all without a patient until set. */
  reservePending(size: number): void {
    const n = size - this.committed
    if (n <= this.#pendingLength) return
    if (n > this.#pending.length) {
      const grown = new Int32Array(n)
      grown.set(this.#pending.subarray(0, this.#pendingLength))
      this.#pending = grown
    }
    this.#pending.fill(-1, this.#pendingLength, n)
    this.#pendingLength = n
  }

  /** Slots of the pending entries up to `size`. */
  pendingSlots(size: number): Int32Array {
    return this.#pending.subarray(0, size - this.committed)
  }

  /** Adds `seq` to the slot's committed leaf (count and chain only: the tree follows in settle). */
  addCommitted(slot: number, seq: number): void {
    const leaf = this.#leafNumber(slot)
    this.#counts[leaf]!++
    chainNextInPlace(this.#chains, leaf * INDEX_HASH_SIZE, seq)
  }

  /** The slot's committed (count, chain), or undefined without a leaf. */
  opening(slot: number): { count: number; chain: Uint8Array } | undefined {
    const leaf = slot < this.#leafOf.length ? this.#leafOf[slot]! - 1 : -1
    if (leaf < 0) return undefined
    const at = leaf * INDEX_HASH_SIZE
    return { count: this.#counts[leaf]!, chain: this.#chains.slice(at, at + INDEX_HASH_SIZE) }
  }

  /** Writes the committed leaves of `slots` into the tree (their betas must be known). */
  settle(patients: Patients, slots: Iterable<number>): void {
    for (const slot of slots) {
      const opening = this.opening(slot)
      if (!opening) continue
      const beta = patients.beta(slot)
      const value = indexValueHash(indexSalt(beta, this.origin), opening.count, opening.chain)
      this.tree.set(indexKey(beta, this.origin), value)
    }
  }

  /** Moves the committed size to `size`, applying the pending entries up to it. */
  advance(patients: Patients, size: number): void {
    const n = size - this.committed
    const changed = new Set<number>()
    for (let i = 0; i < n; i++) {
      const slot = this.#pending[i]!
      if (slot < 0) continue
      this.addCommitted(slot, this.committed + i + 1)
      changed.add(slot)
    }
    this.#pending.copyWithin(0, n, this.#pendingLength)
    this.#pendingLength -= n
    this.committed = size
    this.settle(patients, changed)
  }

  /** The root at `size` (≥ committed) without changing the committed state. */
  rootAt(patients: Patients, size: number): Uint8Array {
    const n = size - this.committed
    const overlay = new Map<number, { count: number; chain: Uint8Array }>()
    for (let i = 0; i < n; i++) {
      const slot = this.#pending[i]!
      if (slot < 0) continue
      let leaf = overlay.get(slot)
      if (!leaf) {
        leaf = this.opening(slot) ?? { count: 0, chain: EMPTY_HASH }
        overlay.set(slot, leaf)
      }
      leaf.count++
      leaf.chain = chainNext(leaf.chain, this.committed + i + 1)
    }
    const changes: Array<readonly [Uint8Array, Uint8Array]> = []
    for (const [slot, { count, chain }] of overlay) {
      const beta = patients.beta(slot)
      const value = indexValueHash(indexSalt(beta, this.origin), count, chain)
      changes.push([indexKey(beta, this.origin), value])
    }
    return this.tree.rootWith(changes)
  }

  /** The slot's proof part at the committed size (membership with its opening, or absence). */
  prove(patients: Patients, slot: number): OriginIndexProof {
    const opening = this.opening(slot)
    const proof = this.tree.prove(indexKey(patients.beta(slot), this.origin))
    return opening ? { origin: this.origin, opening, proof } : { origin: this.origin, proof }
  }

  /** Gives back the arrays' spare room (after a build; growth doubles them). */
  trim(): void {
    const leaves = Math.max(1, this.#leaves)
    this.#counts = this.#counts.slice(0, leaves)
    this.#chains = this.#chains.slice(0, leaves * INDEX_HASH_SIZE)
    this.#pending = this.#pending.slice(0, Math.max(1, this.#pendingLength))
    this.tree.trim()
  }

  /** Bytes held in typed arrays (for the memory figures; the tree's leaves are extra). */
  get arrayBytes(): number {
    return (
      this.#leafOf.byteLength +
      this.#counts.byteLength +
      this.#chains.byteLength +
      this.#pending.byteLength
    )
  }

  #leafNumber(slot: number): number {
    while (slot >= this.#leafOf.length) this.#leafOf = grow32(this.#leafOf)
    const existing = this.#leafOf[slot]!
    if (existing > 0) return existing - 1
    const leaf = this.#leaves++
    if (leaf === this.#counts.length) {
      const counts = new Uint32Array(this.#counts.length * 2)
      counts.set(this.#counts)
      this.#counts = counts
      const chains = new Uint8Array(this.#chains.length * 2)
      chains.set(this.#chains)
      this.#chains = chains
    }
    this.#leafOf[slot] = leaf + 1
    return leaf
  }
}

function grow32(a: Int32Array): Int32Array {
  const grown = new Int32Array(a.length * 2)
  grown.set(a)
  return grown
}
