import { type Checkpoint, checkpointId } from '../core/checkpoint.ts'
import type { EncodedEntry } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import { bytesEqual, toHex } from '../core/hex.ts'
import { type CompletenessProof, type OriginIndexProof, PatientIndex } from '../core/index/index.ts'
import type { LogStore } from '../store/index.ts'
import type { IndexView } from './index-view.ts'

const ROOT_MEMO = 64

/** What the reference reads of the replica: sizes and entries in feed order. */
export type IndexSource = Pick<LogStore, 'size' | 'entries'>

/** The patient an entry is about for the index: an `event` entry's patientId, else none. */
export function indexedPatientOf(encoded: EncodedEntry): string | undefined {
  const { entry } = encoded
  if (entry.kind !== 'event') return undefined
  const patientId = (entry.body as { patientId?: unknown }).patientId
  return typeof patientId === 'string' ? patientId : undefined
}

/**
 * The per-patient index computed the plain way (docs/architecture.md, "Complete answers"): one
 * in-memory PatientIndex per origin, fed from the store's entries; asked for a size below where
 * it is, it starts again from entry 1. A second set, advanced only on commit(), stays at the
 * cut of the latest cosigned checkpoint so that proofs answer at that cut while the working set
 * moves on. Nothing is kept on disk: a start recomputes on first use (seconds per 100,000
 * entries). It is the oracle the fast index service is tested against, and what a node runs
 * until that service is wired. Calls are serialized: each waits for the one before.
 */
export class ReferenceIndexView implements IndexView {
  readonly #source: IndexSource
  readonly #vrfSecretKey: Uint8Array
  /** Per origin: the index at the last size asked (rootAt). Protected: tests damage it. */
  protected readonly working = new Map<string, PatientIndex>()
  /** The committed checkpoint's id and, per origin, the index at its cut. */
  protected committed: { id: string; timeMs: number; feeds: Map<string, PatientIndex> } | undefined
  /**
   * Roots already computed, per origin and size (the last ROOT_MEMO): a cosigner asked for a
   * size below its working index (its own cut was ahead of a proposal) is answered without a
   * rebuild when it has been there. Cleared by check(). Protected: tests damage it.
   */
  protected readonly roots = new Map<string, Map<number, Uint8Array>>()
  #queue: Promise<unknown> = Promise.resolve()

  constructor(source: IndexSource, vrfSecretKey: Uint8Array) {
    this.#source = source
    this.#vrfSecretKey = vrfSecretKey
  }

  rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    return this.#serial(async () => {
      const known = this.roots.get(origin)?.get(treeSize)
      if (known) return known
      const index = await this.#advance(this.working.get(origin), origin, treeSize)
      this.working.set(origin, index)
      return this.#remember(origin, treeSize, index.indexRoot(origin))
    })
  }

  commit(c: Checkpoint): Promise<void> {
    return this.#serial(() => this.#commit(c))
  }

  prove(patientId: string, c: Checkpoint): Promise<CompletenessProof> {
    return this.#serial(async () => {
      // A checkpoint adopted before its entries arrived is committed once they are here.
      if (this.committed?.id !== checkpointId(c)) await this.#commit(c)
      const feeds = this.committed!.feeds
      let vrfProof: Uint8Array | undefined
      const origins: OriginIndexProof[] = []
      for (const cut of c.feeds) {
        const part = feeds.get(cut.origin)!.prove(patientId, [cut.origin])
        vrfProof ??= part.vrfProof
        origins.push(...part.origins)
      }
      // The VRF proof is deterministic (RFC 9381): any origin's index gives the same bytes.
      vrfProof ??= new PatientIndex(this.#vrfSecretKey).prove(patientId, []).vrfProof
      return { vrfProof, origins }
    })
  }

  check(): Promise<{ origin: string; treeSize: number }[]> {
    return this.#serial(async () => {
      const differed = new Map<string, number>()
      const recheck = async (feeds: Map<string, PatientIndex>) => {
        for (const [origin, held] of feeds) {
          const treeSize = held.treeSize(origin)
          const fresh = await this.#advance(undefined, origin, treeSize)
          if (bytesEqual(fresh.indexRoot(origin), held.indexRoot(origin))) continue
          feeds.set(origin, fresh)
          differed.set(origin, Math.max(differed.get(origin) ?? 0, treeSize))
        }
      }
      await recheck(this.working)
      if (this.committed) await recheck(this.committed.feeds)
      this.roots.clear()
      return [...differed].map(([origin, treeSize]) => ({ origin, treeSize }))
    })
  }

  /**
   * Moves the committed set to the cut of `c`: each origin's index is advanced from the last
   * commit (or rebuilt when the cut is below it), then compared with the root `c` commits to.
   * An older checkpoint than the committed one is refused: proofs stay at the newest.
   */
  async #commit(c: Checkpoint): Promise<void> {
    const id = checkpointId(c)
    if (this.committed?.id === id) return
    if (this.committed && c.timeMs < this.committed.timeMs) {
      throw new EhrlogError(
        'UNAVAILABLE',
        `checkpoint ${id.slice(0, 12)}… is older than the committed one (${this.committed.id.slice(0, 12)}…)`,
      )
    }
    const previous = this.committed?.feeds
    const feeds = new Map<string, PatientIndex>()
    for (const cut of c.feeds) {
      const index = await this.#advance(previous?.get(cut.origin), cut.origin, cut.treeSize)
      if (!bytesEqual(index.indexRoot(cut.origin), cut.indexRoot)) {
        throw new EhrlogError(
          'STORE_CORRUPT',
          `the index of ${cut.origin} at size ${cut.treeSize} computed from this replica is ${toHex(index.indexRoot(cut.origin)).slice(0, 16)}…, the cosigned checkpoint says ${toHex(cut.indexRoot).slice(0, 16)}…`,
          { details: { origin: cut.origin, treeSize: cut.treeSize } },
        )
      }
      feeds.set(cut.origin, index)
    }
    this.committed = { id, timeMs: c.timeMs, feeds }
  }

  /** `index` (or a new one) brought to `treeSize` of `origin`; a new one when it is past it. */
  async #advance(
    index: PatientIndex | undefined,
    origin: string,
    treeSize: number,
  ): Promise<PatientIndex> {
    const held = this.#source.size(origin)
    if (treeSize > held) {
      throw new EhrlogError(
        'UNAVAILABLE',
        `the index of ${origin} at size ${treeSize} needs entries this replica lacks (it holds ${held})`,
        { details: { origin, treeSize, held } },
      )
    }
    let out = index
    if (!out || out.treeSize(origin) > treeSize) out = new PatientIndex(this.#vrfSecretKey)
    const from = out.treeSize(origin) + 1
    if (from > treeSize) return out
    for await (const encoded of this.#source.entries(origin, from, treeSize))
      out.applyEntry(origin, encoded.entry.seq, indexedPatientOf(encoded))
    if (out.treeSize(origin) !== treeSize) {
      throw new EhrlogError(
        'STORE_CORRUPT',
        `the index of ${origin} reached size ${out.treeSize(origin)}, not ${treeSize}: entries are missing from the replica`,
        { details: { origin, treeSize } },
      )
    }
    return out
  }

  #remember(origin: string, treeSize: number, root: Uint8Array): Uint8Array {
    let roots = this.roots.get(origin)
    if (!roots) {
      roots = new Map()
      this.roots.set(origin, roots)
    }
    roots.set(treeSize, root)
    if (roots.size > ROOT_MEMO) roots.delete(roots.keys().next().value!)
    return root
  }

  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run)
    this.#queue = next.catch(() => {})
    return next
  }
}
