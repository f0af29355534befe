import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { bytesEqual } from '../core/hex.ts'
import type { LogStore } from '../store/index.ts'
import type { Patients } from './patients.ts'
import type { VrfWorker } from './vrf-worker.ts'

/** The beta of a slot whose posting names an entry of another patient: no VRF output's. */
const FOREIGN_BETA: Uint8Array = new Uint8Array(64)

/** Betas loaded or computed per job: a VRF job of 256 patients is ~0.15 s of the thread (vrf-output.ts). */
export const BETA_CHUNK = 256

/**
 * The patients' VRF outputs (betas) for the index service: read from the store's cache
 * (V | blind, sealed) or computed on the VRF thread and cached, in jobs of BETA_CHUNK, at
 * most one job per patient at a time. New patients are queued and loaded in the background.
 */
export class BetaLoader {
  readonly #store: LogStore
  readonly #vrf: VrfWorker
  /** The registry new patients are queued in (the service's current one). */
  readonly #current: () => Patients
  readonly #closed: () => boolean
  readonly #queue = new Set<number>()
  #pumping = false

  constructor(
    store: LogStore,
    vrf: VrfWorker,
    opts: { current: () => Patients; closed: () => boolean },
  ) {
    this.#store = store
    this.#vrf = vrf
    this.#current = opts.current
    this.#closed = opts.closed
  }

  /** Queues a new patient of the current registry for a load in the background. */
  enqueue(slot: number): void {
    this.#queue.add(slot)
    void this.#pump()
  }

  /** Forgets the queue (its slots were of a registry just replaced). */
  clearQueue(): void {
    this.#queue.clear()
  }

  /** Waits until every slot's beta is known: cached ones are read, the rest computed. */
  async ensure(slots: Iterable<number>, patients = this.#current()): Promise<void> {
    const waits: Promise<void>[] = []
    const missing: number[] = []
    for (const slot of slots) {
      if (patients.isReady(slot)) continue
      const inflight = patients.inflight.get(slot)
      if (inflight) waits.push(inflight)
      else missing.push(slot)
    }
    for (let i = 0; i < missing.length; i += BETA_CHUNK) {
      const chunk = missing.slice(i, i + BETA_CHUNK)
      const job = this.#load(patients, chunk)
      for (const slot of chunk) patients.inflight.set(slot, job)
      waits.push(job)
      const clear = () => {
        for (const slot of chunk)
          if (patients.inflight.get(slot) === job) patients.inflight.delete(slot)
      }
      job.then(clear, clear)
    }
    await Promise.all(waits)
  }

  /** Loads or computes the betas of queued patients in the background. */
  async #pump(): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#queue.size > 0 && !this.#closed()) {
        const chunk = new Set<number>()
        for (const slot of this.#queue) {
          this.#queue.delete(slot)
          chunk.add(slot)
          if (chunk.size >= BETA_CHUNK) break
        }
        await this.ensure(chunk).catch(() => undefined) // retried when needed
      }
    } finally {
      this.#pumping = false
    }
  }

  async #load(patients: Patients, slots: readonly number[]): Promise<void> {
    const blinds = slots.map((slot) => patients.blind(slot))
    const cached = await this.#store.patientIndex.getBetas(blinds)
    const toCompute: number[] = []
    slots.forEach((slot, i) => {
      const beta = cached[i]
      if (beta && beta.length === 64) patients.setBeta(slot, beta)
      else toCompute.push(slot)
    })
    if (toCompute.length === 0) return
    const real: number[] = []
    const ids: string[] = []
    for (const slot of toCompute) {
      const known = patients.ids.get(slot)
      const id = known ?? (await this.#idFromEntry(patients, slot))
      // A posting whose entry names another patient (one that whoever could write the store's
      // files added) has that patient's id but not its blind: the id's beta is not the slot's,
      // and cached under the slot's blind it would stay wrong. Such a slot gets FOREIGN_BETA,
      // uncached: its leaf is no patient's, the root differs from the one the entries give,
      // and the index check names the feed and rebuilds it from the entries.
      if (
        known === undefined &&
        !bytesEqual(this.#store.patientIndex.blind(id), patients.blind(slot))
      ) {
        patients.setBeta(slot, FOREIGN_BETA)
        continue
      }
      real.push(slot)
      ids.push(id)
    }
    if (real.length === 0) return
    const betas = await this.#vrf.outputs(ids)
    real.forEach((slot, i) => {
      patients.setBeta(slot, betas[i]!)
    })
    await this.#store.patientIndex.putBetas(
      real.map((slot, i) => [patients.blind(slot), betas[i]!]),
    )
  }

  /** A patient met only in postings: its id from one of its entries (the only decryption). */
  async #idFromEntry(patients: Patients, slot: number): Promise<string> {
    const ref = patients.refs.get(slot)
    const entry = ref && (await this.#store.getEntry(ref.origin, ref.seq))
    const id = entry && (entry.entry.body as AuditEvent).patientId
    if (typeof id !== 'string') {
      throw new EhrlogError('STORE_CORRUPT', `no readable entry names the patient of slot ${slot}`)
    }
    return id
  }
}
