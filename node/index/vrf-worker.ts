import { EhrlogError } from '../core/errors.ts'
import { VRF_OUTPUT_SIZE } from '../core/index/vrf.ts'
import { OrderedWorker } from '../threads/ordered-worker.ts'
import { runVrfJob, type VrfAnswer, type VrfJob } from './vrf-jobs.ts'

/**
 * The VRF work of the per-patient index on one worker thread (started on first use, at a
 * lower priority): a new patient's output costs ~0.5 ms (X25519 for the multiplication,
 * vrf-output.ts), which must not stall appends or gossip. If the thread fails, jobs run inline: slower for the loop, never a wrong answer.
 * `calls` counts VRF evaluations (outputs and proofs), so tests can show a restart needs none.
 */
export class VrfWorker {
  readonly #secretKey: Uint8Array
  #worker: OrderedWorker<VrfAnswer> | undefined
  #closed = false
  calls = 0

  constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey
  }

  /** The 64-byte VRF outputs of `patientIds`, in order. */
  async outputs(patientIds: readonly string[]): Promise<Uint8Array[]> {
    if (patientIds.length === 0) return []
    this.calls += patientIds.length
    const bytes = await this.#run({ op: 'outputs', patientIds: [...patientIds] })
    return patientIds.map((_, i) => bytes.slice(i * VRF_OUTPUT_SIZE, (i + 1) * VRF_OUTPUT_SIZE))
  }

  /** The 80-byte VRF proof for `patientId`. */
  prove(patientId: string): Promise<Uint8Array> {
    this.calls++
    return this.#run({ op: 'prove', patientId })
  }

  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    this.#worker = undefined
    await worker?.close('VRF worker closed')
  }

  async #run(job: VrfJob): Promise<Uint8Array> {
    if (this.#closed) throw new EhrlogError('UNAVAILABLE', 'the index is closed')
    this.#worker ??= new OrderedWorker<VrfAnswer>(
      'node/index/vrf-thread.ts',
      { secretKey: this.#secretKey },
      'VRF worker',
    )
    let answer: VrfAnswer
    try {
      answer = await this.#worker.run(job, [])
    } catch {
      if (this.#closed) throw new EhrlogError('UNAVAILABLE', 'the index is closed')
      return runVrfJob(this.#secretKey, job) // the thread is gone: inline
    }
    if (!answer.bytes) throw new EhrlogError('INTERNAL', `VRF failed: ${answer.error}`)
    return answer.bytes
  }
}
