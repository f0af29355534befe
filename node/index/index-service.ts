import type { Checkpoint } from '../core/checkpoint.ts'
import { EhrlogError } from '../core/errors.ts'
import { bytesEqual } from '../core/hex.ts'
import type { CompletenessProof } from '../core/index/completeness.ts'
import { vrfKeyPair } from '../core/index/vrf.ts'
import type { CommittedBatch, LogStore, PatientPosting } from '../store/index.ts'
import { BETA_CHUNK, BetaLoader } from './beta-loader.ts'
import { entryPostings } from './entry-postings.ts'
import type { IndexView } from './index-view.ts'
import { OriginState } from './origin-state.ts'
import { Patients } from './patients.ts'
import { cutOf, range, slotsOf } from './slots.ts'
import { VrfWorker } from './vrf-worker.ts'

/** Betas a build loads at a time (a few jobs of BETA_CHUNK), so its transient memory is bounded. */
const BUILD_BETAS = 4 * BETA_CHUNK
/** VRF proofs kept (80 bytes each): the patients whose queries repeat. */
const PROOF_CACHE = 4096
/** Progress is told every this many postings. */
const PROGRESS_EVERY = 16_384

export interface RebuildProgress {
  /** Entries (event postings' seqs) read so far. */
  done: number
  /** Entries in the replica when the rebuild began (all kinds). */
  total: number
  phase: 'postings' | 'betas' | 'tree' | 'done'
}

export interface IndexServiceOptions {
  /** The newest cosigned checkpoint: the committed cut to build at (none: size 0 everywhere). */
  checkpoint?: Checkpoint
  onProgress?: (p: RebuildProgress) => void
  /**
   * Before any checkpoint, a root asked this many entries or more above the tree moves the
   * tree there instead of computing an overlay (default 50,000; see rootAt).
   */
  advanceFrom?: number
}

/** Pending entries from which rootAt moves the tree before the first checkpoint. */
const ADVANCE_FROM = 50_000

/** One full build: the per-origin states and the patient registry at a snapshot. */
interface Built {
  patients: Patients
  origins: Map<string, OriginState>
}

/**
 * The per-patient index of every feed the store holds, kept beside the store (issue 15,
 * docs/architecture.md "Complete answers"). Off the ingest path: the store's committed-batch
 * hook only queues (origin, seq, patient slot); the VRF outputs of new patients are computed
 * on a worker thread in the background and cached in LevelDB under the patient's blind index
 * (V | blind → sealed beta), so a restart or rebuild never computes one again. The state is
 * in memory (origin-state.ts, patients.ts) and built at open from the patient postings,
 * which already list each patient's seqs per feed in order: no entry is decrypted except for
 * a patient whose beta is not cached. Roots and proofs equal PatientIndex's (the reference).
 */
export class IndexService implements IndexView {
  readonly #store: LogStore
  readonly #vrf: VrfWorker
  readonly vrfPublicKey: Uint8Array
  #state: Built = { patients: new Patients(), origins: new Map() }
  #checkpoint: Checkpoint | undefined
  /** A checkpoint was given at open or handed to commit(): the tree stays at cuts from then on. */
  #checkpointed = false
  readonly #advanceFrom: number
  /** Hook batches seen while a build runs, replayed onto its result. */
  #buffered: CommittedBatch[] | undefined
  /** Origins whose hook stream broke (a gap, a repair): check() rebuilds them. */
  readonly #stale = new Set<string>()
  /** Origins a check in the background found different (and rebuilt): told by the next check(). */
  #unreported: { origin: string; treeSize: number }[] = []
  readonly #betas: BetaLoader
  #lock: Promise<unknown> = Promise.resolve()
  readonly #proofs = new Map<string, Uint8Array>()
  readonly #waiters = new Set<() => void>()
  #unsubscribe: (() => void) | undefined
  #closed = false

  private constructor(store: LogStore, vrfSecretKey: Uint8Array, advanceFrom: number) {
    this.#store = store
    this.#advanceFrom = advanceFrom
    this.vrfPublicKey = vrfKeyPair(vrfSecretKey).publicKey
    this.#vrf = new VrfWorker(vrfSecretKey)
    this.#betas = new BetaLoader(store, this.#vrf, {
      current: () => this.#state.patients,
      closed: () => this.#closed,
    })
  }

  /**
   * Builds the index of an open store at `opts.checkpoint`'s cut from its postings (with
   * progress) and follows the store's batches from then on. The state is not on disk (only
   * the betas are), so an index is never missing or old at start: it is built, at ≥100,000
   * entries/s (docs/performance.md).
   */
  static async open(
    store: LogStore,
    vrfSecretKey: Uint8Array,
    opts: IndexServiceOptions = {},
  ): Promise<IndexService> {
    const service = new IndexService(store, vrfSecretKey, opts.advanceFrom ?? ADVANCE_FROM)
    service.#checkpointed = opts.checkpoint !== undefined
    service.#unsubscribe = store.onCommitted((batch) => service.onBatch(batch))
    await service.#exclusive(async () => {
      service.#state = await service.#build(cutOf(opts.checkpoint), opts.onProgress)
    })
    const c = opts.checkpoint
    if (c) {
      // Built at the cut, unless this replica does not hold all of it yet: then the commit
      // waits for the entries in the background (proofs are refused until it is done).
      const held = c.feeds.every((f) => f.treeSize <= store.size(f.origin))
      const committing = service.commit(c)
      if (held) await committing
      else committing.catch(() => undefined)
    } else {
      void service.#advanceAll()
    }
    return service
  }

  /**
   * Without a checkpoint, moves each origin's tree to the entries held, in the background
   * (rootAt), so that the first round's roots are overlays of what came since: otherwise
   * every member does that work inside the first round, and at 1M entries that round got no
   * quorum in its 10 s (docs/performance.md, session 8).
   */
  async #advanceAll(): Promise<void> {
    for (const origin of [...this.#state.origins.keys()]) {
      if (this.#closed || this.#checkpointed) return
      const state = this.#originOf(this.#state, origin)
      if (state.known - state.committed < this.#advanceFrom) continue
      await this.rootAt(origin, state.known).catch(() => undefined)
    }
  }

  /** VRF evaluations so far (outputs and proofs): zero after a restart with cached betas. */
  get vrfCalls(): number {
    return this.#vrf.calls
  }

  /** The store's committed-batch hook: queues the batch's patients, nothing more. */
  onBatch(batch: CommittedBatch): void {
    if (this.#closed) return
    this.#buffered?.push(batch)
    this.#apply(this.#state, batch)
  }

  /**
   * The index root of `origin` at `treeSize`, between the committed cut and the newest entry
   * heard of. Normally an overlay of the leaves changed since the cut, leaving the tree (which
   * answers proofs) where it is. Before any checkpoint, though, no proof can be asked for, and
   * the overlay of a whole replica (a network's first checkpoint after an upgrade over 1M
   * entries) costs seconds each time, on every member, in every round until one succeeds:
   * at 1M entries no round got a quorum in time (docs/performance.md). So a root asked
   * `advanceFrom` or more entries above the tree moves the tree there (the work commit would
   * do anyway, done once), and a root asked below a tree so moved rebuilds it there from the
   * postings; the first commit() rebuilds the same way if its cut is below the tree.
   */
  async rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    return this.#exclusive(async () => {
      let state = this.#originOf(this.#state, origin)
      if (!this.#checkpointed && treeSize <= state.known) {
        if (treeSize < state.committed) {
          state = await this.#rebuildAt(new Map([[origin, treeSize]]), origin)
        } else if (treeSize - state.committed >= this.#advanceFrom) {
          await this.#betas.ensure(slotsOf(state.pendingSlots(treeSize)))
          state.advance(this.#state.patients, treeSize)
          return state.tree.root()
        }
      }
      if (treeSize < state.committed || treeSize > state.known) {
        throw new EhrlogError(
          'NOT_FOUND',
          `the index of ${origin} has sizes ${state.committed} to ${state.known}, not ${treeSize}`,
          { details: { origin, treeSize } },
        )
      }
      await this.#betas.ensure(slotsOf(state.pendingSlots(treeSize)))
      return state.rootAt(this.#state.patients, treeSize)
    })
  }

  /**
   * Replaces the state by one built from the postings with `cuts` as the committed sizes
   * (other origins where they are); returns `origin`'s new state.
   */
  async #rebuildAt(cuts: ReadonlyMap<string, number>, origin: string): Promise<OriginState> {
    const cut = new Map([...this.#state.origins].map(([o, s]) => [o, s.committed]))
    for (const [o, n] of cuts) cut.set(o, n)
    this.#state = await this.#build(cut)
    this.#betas.clearQueue() // slots of the registry just replaced
    for (const wake of this.#waiters) wake()
    return this.#originOf(this.#state, origin)
  }

  async commit(c: Checkpoint): Promise<void> {
    // From now on the tree moves only to checkpoints' cuts (rootAt).
    const first = !this.#checkpointed
    this.#checkpointed = true
    // Waits outside the lock: a check() that must rebuild a broken origin can still run.
    for (const cut of c.feeds) {
      await this.#until(() => this.#originOf(this.#state, cut.origin).known >= cut.treeSize)
    }
    return this.#exclusive(async () => {
      if (this.#checkpoint && c.timeMs < this.#checkpoint.timeMs) return
      // The tree went past this first cut (rootAt before any checkpoint): back to it.
      const behind = c.feeds.filter(
        (f) => f.treeSize < this.#originOf(this.#state, f.origin).committed,
      )
      if (first && behind.length > 0) {
        await this.#rebuildAt(new Map(behind.map((f) => [f.origin, f.treeSize])), behind[0]!.origin)
      }
      const slots = new Set<number>()
      for (const cut of c.feeds) {
        const state = this.#originOf(this.#state, cut.origin)
        if (cut.treeSize < state.committed || cut.treeSize > state.known) {
          throw new EhrlogError(
            'ARGUMENT_INVALID',
            `checkpoint cuts ${cut.origin} at ${cut.treeSize}, the index has ${state.committed} to ${state.known}`,
            { details: { origin: cut.origin, treeSize: cut.treeSize } },
          )
        }
        for (const s of slotsOf(state.pendingSlots(cut.treeSize))) slots.add(s)
      }
      await this.#betas.ensure(slots)
      for (const cut of c.feeds) {
        const state = this.#originOf(this.#state, cut.origin)
        state.advance(this.#state.patients, cut.treeSize)
        // A quorum computed this root from the feed. This index, built from the stored
        // postings, differs: a posting is damaged or missing. Rebuilt from the entries.
        if (!bytesEqual(state.tree.root(), cut.indexRoot)) this.#markStale(cut.origin)
      }
      this.#checkpoint = c
    })
  }

  async prove(patientId: string, c: Checkpoint): Promise<CompletenessProof> {
    return this.#exclusive(async () => {
      const { patients } = this.#state
      for (const cut of c.feeds) {
        const committed = this.#originOf(this.#state, cut.origin).committed
        if (committed !== cut.treeSize) {
          throw new EhrlogError(
            'NOT_FOUND',
            `the index of ${cut.origin} is committed at ${committed}, the checkpoint cuts it at ${cut.treeSize}`,
            { details: { origin: cut.origin, treeSize: cut.treeSize } },
          )
        }
      }
      const slot = this.#slotOfId(this.#state, patientId)
      await this.#betas.ensure(new Set([slot]))
      const origins = [...c.feeds]
        .map((cut) => cut.origin)
        .sort()
        .map((origin) => this.#originOf(this.#state, origin).prove(patients, slot))
      return { vrfProof: await this.#vrfProof(patientId), origins }
    })
  }

  /**
   * Recomputes the index from the entries themselves (not the stored postings it was built
   * from at start) and compares: the origins that differed, now rebuilt, with those a check
   * in the background found since the last call.
   */
  async check(): Promise<{ origin: string; treeSize: number }[]> {
    const differed = await this.#checkNow()
    const all = [...this.#unreported, ...differed]
    this.#unreported = []
    return all.filter((d, i) => all.findIndex((o) => o.origin === d.origin) === i)
  }

  #checkNow(): Promise<{ origin: string; treeSize: number }[]> {
    return this.#exclusive(async () => {
      const cut = new Map([...this.#state.origins].map(([o, s]) => [o, s.committed]))
      const fresh = await this.#build(cut, undefined, entryPostings(this.#store))
      // Batches told while this compares go to both states (fresh gets them below if kept).
      const late: CommittedBatch[] = []
      this.#buffered = late
      const differed: { origin: string; treeSize: number }[] = []
      try {
        const origins = new Set([...cut.keys(), ...fresh.origins.keys()])
        for (const origin of [...origins].sort()) {
          const ours = this.#originOf(this.#state, origin)
          const theirs = this.#originOf(fresh, origin)
          // `ours` may have heard of batches since the build (they reach `fresh` below).
          const n = theirs.known
          // A stale origin (a gap in the hook's stream, a repair) is rebuilt below whatever
          // the comparison says, but named only if its roots really differ.
          const stale = this.#stale.has(origin)
          let same =
            ours.committed === theirs.committed &&
            (stale || ours.known >= n) &&
            bytesEqual(ours.tree.root(), theirs.tree.root())
          if (same && !stale && n > ours.committed) {
            // The pending entries too: the overlay roots at the newest size both know.
            await this.#betas.ensure(slotsOf(ours.pendingSlots(n)))
            await this.#betas.ensure(slotsOf(theirs.pendingSlots(n)), fresh.patients)
            const mine = ours.rootAt(this.#state.patients, n)
            same = bytesEqual(mine, theirs.rootAt(fresh.patients, n))
          }
          if (!same) differed.push({ origin, treeSize: ours.committed })
        }
      } finally {
        this.#buffered = undefined
      }
      const rebuild = differed.length > 0 || this.#stale.size > 0
      this.#stale.clear()
      if (rebuild) {
        for (const batch of late) this.#apply(fresh, batch)
        this.#state = fresh
        this.#betas.clearQueue() // slots of the registry just replaced
        for (const wake of this.#waiters) wake()
      }
      return differed
    })
  }

  /** Stops following the store and ends the VRF thread. */
  async close(): Promise<void> {
    this.#closed = true
    this.#unsubscribe?.()
    for (const wake of this.#waiters) wake()
    await this.#vrf.close()
  }

  /** Bytes in the typed arrays of the state (memory figures). */
  get arrayBytes(): number {
    let n = this.#state.patients.arrayBytes
    for (const s of this.#state.origins.values()) n += s.arrayBytes
    return n
  }

  #apply(state: Built, batch: CommittedBatch): void {
    const origin = this.#originOf(state, batch.origin)
    if (batch.repaired) {
      this.#markStale(batch.origin)
      return
    }
    for (const { seq, patientId } of batch.entries) {
      if (seq <= origin.known) continue
      if (seq !== origin.known + 1) {
        this.#markStale(batch.origin) // a gap: only a rebuild can tell the missing patients
        return
      }
      origin.push(patientId === undefined ? -1 : this.#slotOfId(state, patientId))
    }
    for (const wake of this.#waiters) wake()
  }

  /** An origin whose batches broke off (a gap, a repair): rebuilt by a check() started now. */
  #markStale(origin: string): void {
    if (this.#stale.has(origin)) return
    this.#stale.add(origin)
    setImmediate(() => {
      if (this.#closed) return
      this.#checkNow()
        .then((differed) => this.#unreported.push(...differed))
        .catch(() => undefined)
    })
  }

  /** The slot of a patient by id; a new one is queued for its beta (cache or VRF, off-thread). */
  #slotOfId(state: Built, patientId: string): number {
    const { slot, isNew } = state.patients.slotOf(this.#store.patientIndex.blind(patientId))
    if (!state.patients.isReady(slot)) state.patients.ids.set(slot, patientId)
    if (isNew && state === this.#state) {
      this.#betas.enqueue(slot)
    }
    return slot
  }

  /**
   * Builds states at `cut` (origin → committed size; others 0) from one snapshot of the
   * postings, then replays the hook batches that came meanwhile.
   */
  async #build(
    cut: ReadonlyMap<string, number>,
    onProgress?: (p: RebuildProgress) => void,
    postings: AsyncGenerator<PatientPosting[]> = this.#store.patientIndex.postingBatches(),
  ): Promise<Built> {
    const built: Built = { patients: new Patients(), origins: new Map() }
    // Sizes and the postings' snapshot in one tick: postings above these sizes come again as hook batches.
    const sizes = this.#store.sizes()
    const first = postings.next()
    this.#buffered = []
    try {
      const total = [...sizes.values()].reduce((a, b) => a + b, 0)
      for (const [origin, size] of sizes) {
        const state = new OriginState(origin, Math.min(cut.get(origin) ?? 0, size))
        state.reservePending(size)
        built.origins.set(origin, state)
      }
      let done = 0
      let count = 0
      let told = 0
      const { patients } = built
      for (let next = await first; !next.done; next = await postings.next()) {
        for (const { blind, origin, seqs } of next.value) {
          const state = built.origins.get(origin)
          if (!state) continue
          const size = sizes.get(origin) ?? 0
          const { slot } = patients.slotOf(blind)
          // Where one entry of the patient is, for a beta not cached (the first in range).
          let needsRef = !patients.refs.has(slot)
          for (let at = 0; at + 8 <= seqs.length; at += 8) {
            const seq = seqs.readUInt32BE(at) * 0x1_0000_0000 + seqs.readUInt32BE(at + 4)
            if (seq > size || seq < 1) continue
            if (seq <= state.committed) state.addCommitted(slot, seq)
            else state.setPending(seq, slot)
            if (needsRef) {
              patients.refs.set(slot, origin, seq)
              needsRef = false
            }
            done++
          }
          count++
        }
        if (count - told >= PROGRESS_EVERY) {
          told = count
          onProgress?.({ done, total, phase: 'postings' })
        }
      }
      await postings.return(undefined)
      onProgress?.({ done, total, phase: 'betas' })
      // A few jobs at a time, not every patient's at once: the build's peak stays small.
      const slots = built.patients.count
      for (let from = 0; from < slots; from += BUILD_BETAS) {
        await this.#betas.ensure(range(from, Math.min(slots, from + BUILD_BETAS)), built.patients)
      }
      onProgress?.({ done, total, phase: 'tree' })
      for (const state of built.origins.values()) {
        state.settle(built.patients, range(0, slots))
        state.tree.root()
        state.trim()
      }
      built.patients.trim()
      for (const batch of this.#buffered) this.#apply(built, batch)
      // From here to the caller's use of `built` nothing awaits: no hook batch is lost between.
      this.#buffered = undefined
      onProgress?.({ done: total, total, phase: 'done' })
      return built
    } finally {
      this.#buffered = undefined
      await postings.return(undefined)
    }
  }

  #originOf(state: Built, origin: string): OriginState {
    let s = state.origins.get(origin)
    if (!s) {
      s = new OriginState(origin)
      state.origins.set(origin, s)
    }
    return s
  }

  async #vrfProof(patientId: string): Promise<Uint8Array> {
    let proof = this.#proofs.get(patientId)
    if (proof) {
      this.#proofs.delete(patientId)
    } else {
      proof = await this.#vrf.prove(patientId)
      if (this.#proofs.size >= PROOF_CACHE) {
        this.#proofs.delete(this.#proofs.keys().next().value as string)
      }
    }
    this.#proofs.set(patientId, proof)
    return proof
  }

  /** Resolves once `ready()` holds, re-checked after each hook batch. */
  #until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (this.#closed) {
          this.#waiters.delete(wake)
          reject(new EhrlogError('UNAVAILABLE', 'the index is closed'))
        } else if (ready()) {
          this.#waiters.delete(wake)
          resolve()
        }
      }
      this.#waiters.add(wake)
    })
  }

  /** Runs `fn` after every earlier operation: commits, roots, proofs and checks never interleave. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => undefined)
    return run
  }
}
