import type { Checkpoint } from '../core/checkpoint.ts'
import { EhrlogError } from '../core/errors.ts'
import type { CompletenessProof } from '../core/index/completeness.ts'
import type { Startable } from '../lifecycle/index.ts'
import type { Logger } from '../logger.ts'
import type { LogStore } from '../store/index.ts'
import { IndexService, type RebuildProgress } from './index-service.ts'
import type { IndexView } from './index-view.ts'
import { progressLine } from './progress.ts'

/** The build's progress is logged at most this often. */
const PROGRESS_LOG_MS = 2_000

/**
 * The per-patient index as a part of the node: built when the node starts (after the store
 * opens, at the newest stored checkpoint's cut, its progress logged), closed before the store.
 * The parts that use it (checkpoints, queries, the scrub) start after it and stop before it.
 */
export class IndexPart implements IndexView, Startable {
  readonly #store: LogStore
  readonly #vrfSecretKey: Uint8Array
  readonly #latest: () => Promise<Checkpoint | undefined>
  readonly #logger: Logger
  #service: IndexService | undefined

  constructor(
    store: LogStore,
    vrfSecretKey: Uint8Array,
    latest: () => Promise<Checkpoint | undefined>,
    logger: Logger,
  ) {
    this.#store = store
    this.#vrfSecretKey = vrfSecretKey
    this.#latest = latest
    this.#logger = logger
  }

  /**
   * Builds the index; a replica too damaged to build it from (an entry it needs unreadable)
   * does not stop the node, which must start to repair itself: the build is tried again at
   * the scrub's check, after the repair. Meanwhile roots and proofs are UNAVAILABLE.
   */
  async start(): Promise<void> {
    try {
      await this.#open()
    } catch (err) {
      this.#logger.error(
        { err: (err as Error).message },
        'the per-patient index could not be built: tried again after the scrub',
      )
    }
  }

  async #open(): Promise<void> {
    const checkpoint = await this.#latest()
    let logged = 0
    const onProgress = (p: RebuildProgress) => {
      const now = Date.now()
      if (p.phase !== 'done' && now - logged < PROGRESS_LOG_MS) return
      logged = now
      this.#logger.info({ ...p }, progressLine(p))
    }
    const t0 = Date.now()
    this.#service = await IndexService.open(this.#store, this.#vrfSecretKey, {
      ...(checkpoint ? { checkpoint } : {}),
      onProgress,
    })
    this.#logger.info({ ms: Date.now() - t0 }, 'per-patient index built')
  }

  async stop(): Promise<void> {
    await this.#service?.close()
    this.#service = undefined
  }

  rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    return this.#running().rootAt(origin, treeSize)
  }

  commit(c: Checkpoint): Promise<void> {
    return this.#running().commit(c)
  }

  prove(patientId: string, c: Checkpoint): Promise<CompletenessProof> {
    return this.#running().prove(patientId, c)
  }

  async check(): Promise<{ origin: string; treeSize: number }[]> {
    if (!this.#service) {
      await this.#open()
      return []
    }
    return this.#service.check()
  }

  /** VRF evaluations so far: zero after a restart with every beta cached. */
  get vrfCalls(): number {
    return this.#service?.vrfCalls ?? 0
  }

  #running(): IndexService {
    if (!this.#service)
      throw new EhrlogError('UNAVAILABLE', 'the per-patient index is not built yet')
    return this.#service
  }
}
