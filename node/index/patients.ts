import { EhrlogError } from '../core/errors.ts'
import { VRF_OUTPUT_SIZE } from '../core/index/vrf.ts'

const BLIND_BYTES = 16

/**
 * Every patient the index has met, by slot number: its blind index (the store's HMAC of the
 * id, 16 bytes) and, once known, its VRF output (beta), in flat typed arrays: ~100 bytes a
 * patient instead of a few objects each. No patient id is kept once its beta is known.
 *
 * Blind → slot is an open-addressing hash table of slot + 1 (0: free) in an Int32Array, at
 * most half full, probed from the blind's first 4 bytes (an HMAC output: uniform) and
 * compared on all 16 bytes: ~8 bytes a patient instead of a `Map` entry and a hex string
 * (~100 bytes a patient, ~10 MiB at 100,000 patients).
 */
export class Patients {
  #table = new Int32Array(2048)
  #betas = new Uint8Array(1024 * VRF_OUTPUT_SIZE)
  #ready = new Uint8Array(1024)
  #blinds = new Uint8Array(1024 * BLIND_BYTES)
  /** Ids of patients whose beta is not known yet (so a VRF needs no entry read). */
  readonly ids = new Map<number, string>()
  /**
   * For patients met only in postings, until their beta is known: where one of their entries
   * is (a build's 100,000 patients: two typed arrays, not an object each).
   */
  readonly refs = new EntryRefs()
  /** Beta loads under way, by slot. */
  readonly inflight = new Map<number, Promise<void>>()
  count = 0

  /** The slot of the patient with this blind index, new if never seen. */
  slotOf(blind: Uint8Array): { slot: number; isNew: boolean } {
    if (blind.length !== BLIND_BYTES) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `a blind index is ${BLIND_BYTES} bytes, not ${blind.length}`,
      )
    }
    const at = this.#find(blind)
    const known = this.#table[at]!
    if (known !== 0) return { slot: known - 1, isNew: false }
    const slot = this.count++
    if (slot >= this.#ready.length) {
      const grownBetas = new Uint8Array(this.#betas.length * 2)
      grownBetas.set(this.#betas)
      this.#betas = grownBetas
      const grownReady = new Uint8Array(this.#ready.length * 2)
      grownReady.set(this.#ready)
      this.#ready = grownReady
      const grownBlinds = new Uint8Array(this.#blinds.length * 2)
      grownBlinds.set(this.#blinds)
      this.#blinds = grownBlinds
    }
    this.#blinds.set(blind, slot * BLIND_BYTES)
    this.#table[at] = slot + 1
    if (this.count * 2 > this.#table.length) this.#rehash()
    return { slot, isNew: true }
  }

  /** The table cell holding `blind`, or the free cell where it would go (linear probing). */
  #find(blind: Uint8Array): number {
    const mask = this.#table.length - 1
    let at = ((blind[0]! << 24) | (blind[1]! << 16) | (blind[2]! << 8) | blind[3]!) & mask
    for (;;) {
      const cell = this.#table[at]!
      if (cell === 0 || this.#blindIs(cell - 1, blind)) return at
      at = (at + 1) & mask
    }
  }

  #blindIs(slot: number, blind: Uint8Array): boolean {
    const base = slot * BLIND_BYTES
    for (let i = 0; i < BLIND_BYTES; i++) if (this.#blinds[base + i] !== blind[i]) return false
    return true
  }

  /** Doubles the table and re-inserts every slot. */
  #rehash(): void {
    this.#table = new Int32Array(this.#table.length * 2)
    for (let slot = 0; slot < this.count; slot++) {
      const blind = this.#blinds.subarray(slot * BLIND_BYTES, (slot + 1) * BLIND_BYTES)
      this.#table[this.#find(blind)] = slot + 1
    }
  }

  /** A copy of the slot's blind index. */
  blind(slot: number): Uint8Array {
    return this.#blinds.slice(slot * BLIND_BYTES, (slot + 1) * BLIND_BYTES)
  }

  isReady(slot: number): boolean {
    return this.#ready[slot] === 1
  }

  setBeta(slot: number, beta: Uint8Array): void {
    this.#betas.set(beta, slot * VRF_OUTPUT_SIZE)
    this.#ready[slot] = 1
    this.ids.delete(slot)
  }

  /** A view of the slot's beta (valid until the next new patient). */
  beta(slot: number): Uint8Array {
    return this.#betas.subarray(slot * VRF_OUTPUT_SIZE, (slot + 1) * VRF_OUTPUT_SIZE)
  }

  /** Gives back the arrays' spare room (after a build; growth doubles them). */
  trim(): void {
    const n = Math.max(1, this.count)
    this.#betas = this.#betas.slice(0, n * VRF_OUTPUT_SIZE)
    this.#ready = this.#ready.slice(0, n)
    this.#blinds = this.#blinds.slice(0, n * BLIND_BYTES)
    this.refs.clear()
  }

  /** Bytes held in typed arrays (for the memory figures). */
  get arrayBytes(): number {
    return (
      this.#betas.byteLength +
      this.#ready.byteLength +
      this.#blinds.byteLength +
      this.#table.byteLength +
      this.refs.arrayBytes
    )
  }
}

/**
 * One entry per patient slot, (origin, seq), in flat typed arrays: the origin as a number
 * into a short list of names (0: no entry), the seq as a float64 (exact below 2^53).
 */
export class EntryRefs {
  #origins: string[] = []
  #originOf = new Uint16Array(0)
  #seqOf = new Float64Array(0)

  has(slot: number): boolean {
    return slot < this.#originOf.length && this.#originOf[slot] !== 0
  }

  get(slot: number): { origin: string; seq: number } | undefined {
    if (!this.has(slot)) return undefined
    return { origin: this.#origins[this.#originOf[slot]! - 1]!, seq: this.#seqOf[slot]! }
  }

  set(slot: number, origin: string, seq: number): void {
    if (slot >= this.#originOf.length) {
      const n = Math.max(1024, slot + 1, this.#originOf.length * 2)
      const origins = new Uint16Array(n)
      origins.set(this.#originOf)
      this.#originOf = origins
      const seqs = new Float64Array(n)
      seqs.set(this.#seqOf)
      this.#seqOf = seqs
    }
    let o = this.#origins.indexOf(origin)
    if (o < 0) o = this.#origins.push(origin) - 1
    this.#originOf[slot] = o + 1
    this.#seqOf[slot] = seq
  }

  /** Forgets every ref (after a build, once every beta is known). */
  clear(): void {
    this.#originOf = new Uint16Array(0)
    this.#seqOf = new Float64Array(0)
  }

  get arrayBytes(): number {
    return this.#originOf.byteLength + this.#seqOf.byteLength
  }
}
