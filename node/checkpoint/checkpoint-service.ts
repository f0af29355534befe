import { type Checkpoint, type CosignedCheckpoint, checkpointId } from '../core/checkpoint.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { bytesEqual, fromHex, toHex } from '../core/hex.ts'
import type { Membership } from '../core/trust/index.ts'
import type { IndexView } from '../index/index-view.ts'
import type { Logger } from '../logger.ts'
import { type MembershipView, membershipViewOf } from '../membership/membership-view.ts'
import type { CheckpointLog, LogStore } from '../store/index.ts'
import { BlsWorker } from './bls-worker.ts'
import { behindLatest, cutOf, grewSince } from './cut.ts'
import {
  type CheckpointMessage,
  decodeCheckpointMessage,
  encodeCheckpointMessage,
} from './messages.ts'
import { type CheckpointIncident, mayCosign } from './proposal-check.ts'
import { type VersionState, VersionStates } from './version-state.ts'

export interface CheckpointServiceOptions {
  self: string
  /**
   * The membership the rounds follow (a LiveMembership): each round is under its version in
   * force, a pending change is applied at the cut. A plain Membership is one fixed version.
   */
  membership: Membership | MembershipView
  blsSecretKey: Uint8Array
  /**
   * BLS secret keys the folder holds besides blsSecretKey (a rotation's new key): the node
   * signs under each version with the key that version lists for it.
   */
  moreBlsSecretKeys?: readonly Uint8Array[]
  store: LogStore
  /** The per-patient index: roots for the cut, commit() of each adopted checkpoint. */
  index: IndexView
  checkpoints: CheckpointLog
  publish: (data: Uint8Array) => Promise<void>
  /** Pulls missing entries from peers now. */
  syncNow: () => Promise<void>
  onIncident: (incident: CheckpointIncident) => void
  /**
   * Told of each cosigned checkpoint this node adopts (and of the stored latest at start): the
   * origin keys learn where a rotation took effect from it (membership/origin-keys.ts).
   */
  onAdopted?: (cosigned: CosignedCheckpoint) => void
  /** Told how each round this node proposed ended, and how long it took (metrics). */
  onRoundEnded?: (outcome: 'cosigned' | 'failed', durationMs: number) => void
  logger: Logger
  /** Time between scheduled rounds; 0: rounds only on demand (default 10,000 ms). */
  intervalMs?: number
  /** Cosigners needed, overriding every version's (tests); default: the version's quorum. */
  quorum?: number
  /** How long a node waits for entries it lacks before judging a proposal (default 5,000 ms). */
  syncWaitMs?: number
  /** How long runRound waits for a quorum (default 10,000 ms). */
  roundTimeoutMs?: number
  /**
   * Runs the BLS work off the event loop; made from `blsSecretKey` when absent. The service
   * owns it either way: start() starts it and stop() terminates it.
   */
  bls?: BlsWorker
}

interface Round {
  checkpoint: Checkpoint | undefined
  /** The membership version the checkpoint names (its signers are that version's members). */
  version: VersionState | undefined
  signatures: Map<number, Uint8Array>
  /** An aggregation is running: a signature arriving meanwhile is picked up after it. */
  aggregating: boolean
  done: boolean
}

/**
 * Checkpoint rounds (docs/architecture.md). A proposer publishes a cut of every feed with its
 * BLS signature; each node signs only if its own replica holds exactly those roots (pulling
 * what it lacks first) and they extend the latest cosigned checkpoint (RFC 9162 consistency);
 * the proposer aggregates a quorum into one signature and publishes the cosigned checkpoint,
 * which every node verifies in one step and stores. Proposers rotate by time slot.
 */
export class CheckpointService {
  readonly #opts: CheckpointServiceOptions
  readonly #live: MembershipView
  readonly #versions: VersionStates
  readonly #networkId: Uint8Array
  readonly #rounds = new Map<string, Round>()
  readonly #waiters = new Map<
    string,
    { resolve: (c: CosignedCheckpoint) => void; reject: (err: Error) => void }
  >()
  readonly #bls: BlsWorker
  #latest: CosignedCheckpoint | undefined
  /** Feeds this replica held up to their cut in #latest when it was adopted. */
  #latestHeld: ReadonlySet<string> | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(opts: CheckpointServiceOptions) {
    this.#opts = opts
    this.#live = membershipViewOf(opts.membership)
    const secretKeys = [opts.blsSecretKey, ...(opts.moreBlsSecretKeys ?? [])]
    this.#versions = new VersionStates(opts.self, secretKeys, opts.quorum, (n) => this.#live.at(n))
    this.#networkId = fromHex(this.#live.networkId, 32)!
    this.#bls = opts.bls ?? new BlsWorker({ secretKey: opts.blsSecretKey }, opts.logger)
  }

  /** A BLS secret key the folder got while running (a rotation's new key, own-rotation.ts). */
  addBlsSecretKey(secretKey: Uint8Array): void {
    this.#versions.addSecretKey(secretKey)
  }

  /** The version in force, as rounds use it. */
  #now(): VersionState {
    return this.#versions.of(this.#live.current)
  }

  async start(): Promise<void> {
    const stored = await this.#opts.checkpoints.latestRecord((old) =>
      this.#opts.logger.warn(
        { storedCheckpoint: old.id, timeMs: old.timeMs },
        'the latest stored checkpoint was made by an older version (no index roots or no membership version): not used; the network cosigns a new one at its next round',
      ),
    )
    this.#latest = stored?.cosigned
    this.#latestHeld = stored?.held
    if (stored) this.#opts.onAdopted?.(stored.cosigned)
    // Proofs answer at the latest checkpoint: the index gets there in the background (a replica
    // behind it, or damaged, gets its entries back from peers only once the network is up).
    if (stored && stored.held?.size === stored.cosigned.checkpoint.feeds.length) {
      this.#opts.index
        .commit(stored.cosigned.checkpoint)
        .catch((err: unknown) =>
          this.#opts.logger.warn(
            { err: (err as Error).message },
            'the per-patient index did not commit the stored checkpoint at start',
          ),
        )
    }
    this.#bls.start()
    const interval = this.#opts.intervalMs ?? 10_000
    if (interval > 0) this.#timer = setInterval(() => this.#onTick(interval), interval)
  }

  /**
   * Ends rounds and terminates the BLS worker; idempotent, never rejects. Work still in
   * flight (a proposal being judged, a round completing) finds the service stopped and
   * publishes nothing: the network may already be gone.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    const stopped = new EhrlogError('UNAVAILABLE', 'checkpoint service stopped')
    for (const waiter of this.#waiters.values()) waiter.reject(stopped)
    this.#waiters.clear()
    await this.#bls.stop()
  }

  /** The newest cosigned checkpoint this node verified. */
  latest(): CosignedCheckpoint | undefined {
    return this.#latest
  }

  /**
   * The feeds whose cut in latest() this replica held when it adopted it: proof, as far as
   * this node's disk goes, that it had those entries. A checkpoint can arrive before the
   * entries it covers (a node that was away); the signer bitmap does not tell, since a
   * round ends with the first quorum of signatures. Undefined for a checkpoint stored before
   * this was recorded.
   */
  latestHeld(): ReadonlySet<string> | undefined {
    return this.#latestHeld
  }

  /** Proposes a checkpoint of this node's replica now; resolves once a quorum cosigned it. */
  async runRound(): Promise<CosignedCheckpoint> {
    if (this.#stopped) throw new EhrlogError('UNAVAILABLE', 'checkpoint service stopped')
    const started = performance.now()
    const ended = (outcome: 'cosigned' | 'failed') =>
      this.#opts.onRoundEnded?.(outcome, performance.now() - started)
    // The cut: a change a quorum accepted takes effect here, before this node proposes.
    await this.#live.applyPending()
    const version = this.#now()
    if (version.index < 0 || !version.secretKey) {
      ended('failed')
      throw new EhrlogError(
        'UNAVAILABLE',
        version.index < 0
          ? `${this.#opts.self} is not a member of membership version ${version.ref.version}: it does not propose`
          : `this node's folder holds no BLS secret key for its entry in membership version ${version.ref.version} (install the rotated key)`,
      )
    }
    const checkpoint = await cutOf(this.#networkId, version, this.#opts.store, this.#opts.index)
    const id = checkpointId(checkpoint)
    const done = new Promise<CosignedCheckpoint>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id)
        ended('failed')
        reject(
          new EhrlogError(
            'UNAVAILABLE',
            `checkpoint round ${id.slice(0, 12)}… got no quorum of ${version.keys.quorum} in time`,
          ),
        )
      }, this.#opts.roundTimeoutMs ?? 10_000)
      this.#waiters.set(id, {
        resolve: (c) => {
          clearTimeout(timer)
          ended('cosigned')
          resolve(c)
        },
        reject: (err) => {
          clearTimeout(timer)
          ended('failed')
          reject(err)
        },
      })
    })
    // The caller gets the rejection when it awaits `done`; until the signing below returns
    // (a loaded machine, a busy BLS thread) nobody awaits it, and a timeout then must not be
    // an unhandled rejection: that ends the node process.
    done.catch(() => {})
    try {
      const signature = await this.#bls.run({
        op: 'sign',
        checkpoint,
        secretKey: version.secretKey,
      })
      const round = this.#round(id)
      round.checkpoint = checkpoint
      round.version = version
      await this.#addSignature(id, version.index, signature)
      await this.#publish({ type: 'propose', checkpoint, signer: version.index, signature })
    } catch (err) {
      this.#waiters.get(id)?.reject(err as Error)
      this.#waiters.delete(id)
    }
    return done
  }

  /** Control-topic handler: true forwards the message, false rejects it. */
  async handle(data: Uint8Array, fromMember: string): Promise<boolean> {
    if (this.#stopped) return false // not judged: nothing unjudged travels on
    const message = decodeCheckpointMessage(data)
    switch (message.type) {
      case 'propose':
        return this.#onPropose(message)
      case 'cosign':
        return this.#onCosign(message)
      case 'cosigned':
        return this.#onCosigned(message.cosigned, fromMember)
    }
  }

  #onTick(interval: number): void {
    const slot = Math.floor(Date.now() / interval)
    const { membership, index } = this.#now()
    const due = index >= 0 && slot % membership.members.length === index
    const grew = grewSince(this.#latest, membership, this.#opts.store)
    if (!due || (!grew && !this.#pendingChange())) return
    // Behind the checkpoint it adopted (catching up): the members propose meanwhile.
    if (behindLatest(this.#latest, this.#opts.store)) return
    this.runRound().catch((err: unknown) =>
      this.#opts.logger[this.#stopped ? 'debug' : 'warn'](
        { err: (err as Error).message },
        'scheduled checkpoint round failed',
      ),
    )
  }

  /** A change waits for the cut: a round applies it even when no feed grew. */
  #pendingChange(): boolean {
    return this.#live.pending !== undefined
  }

  #isCurrent(checkpoint: Checkpoint): boolean {
    const { ref } = this.#now()
    return (
      checkpoint.membership.version === ref.version &&
      bytesEqual(checkpoint.membership.hash, ref.hash)
    )
  }

  async #onPropose(message: Extract<CheckpointMessage, { type: 'propose' }>): Promise<boolean> {
    const { checkpoint, signer, signature } = message
    if (toHex(checkpoint.networkId) !== toHex(this.#networkId)) return false
    // Under the version in force, or the one the pending change makes: the proposer reached the
    // cut first, and once its signature verifies under that version, the change is applied
    // here too. An older version, or one this node does not hold, is not cosigned.
    const version = this.#versions.ofRef(this.#live, checkpoint.membership)
    if (!version || version.ref.version < this.#live.current.version) {
      this.#opts.logger.info(
        { version: checkpoint.membership.version, current: this.#live.current.version },
        'checkpoint proposal under a membership version not in force here: not cosigned',
      )
      return false
    }
    const keys = version.keys
    if (!keys.blsKeys[signer]) return false
    if (!(await this.#bls.run({ op: 'verify', keys, signer, checkpoint, signature }))) return false
    if (!(await this.#live.applyFor(checkpoint.membership))) return false
    if (this.#stopped) return false
    const id = checkpointId(checkpoint)
    const round = this.#round(id)
    if (round.checkpoint) return true // seen already
    round.checkpoint = checkpoint
    round.version = version
    round.signatures.set(signer, signature)
    // Judging may wait for a sync: done after the validator has let the proposal travel on.
    setImmediate(() => {
      this.#consider(id, checkpoint, signer, version).catch((err: unknown) =>
        this.#opts.logger.warn(
          { err: (err as Error).message, checkpoint: id },
          'could not judge a checkpoint proposal',
        ),
      )
    })
    return true
  }

  /** Signs the proposal if this replica holds exactly its roots and they extend the latest checkpoint. */
  async #consider(
    id: string,
    checkpoint: Checkpoint,
    proposer: number,
    version: VersionState,
  ): Promise<void> {
    if (version.index < 0 || !version.secretKey) return // not a signer of this version
    const sign = await mayCosign(checkpoint, {
      ...this.#opts,
      members: new Set(version.origins),
      latest: this.#latest,
      proposerName: version.membership.members[proposer]?.name ?? `member ${proposer}`,
      syncWaitMs: this.#opts.syncWaitMs ?? 5000,
      stopped: () => this.#stopped,
    })
    // Another cut may have moved the version meanwhile: a node cosigns only the one in force.
    if (!sign || this.#stopped || !this.#isCurrent(checkpoint)) return
    const signature = await this.#bls.run({
      op: 'sign',
      checkpoint,
      secretKey: version.secretKey,
    })
    await this.#addSignature(id, version.index, signature)
    await this.#publish({ type: 'cosign', id, signer: version.index, signature })
  }

  #onCosign(message: Extract<CheckpointMessage, { type: 'cosign' }>): boolean {
    const round = this.#rounds.get(message.id)
    const members = (round?.version ?? this.#now()).keys.blsKeys.length
    if (message.signer >= members) return false
    // Checked in the aggregate by whoever aggregates (the proposer); cheap to pass on.
    this.#addSignature(message.id, message.signer, message.signature).catch((err: unknown) =>
      // e.g. a round completing while the node stops: its topic is gone; the round is moot
      this.#opts.logger.debug({ err: (err as Error).message }, 'cosignature not used'),
    )
    return true
  }

  async #addSignature(id: string, signer: number, signature: Uint8Array): Promise<void> {
    const round = this.#round(id)
    if (round.done) return
    round.signatures.set(signer, signature)
    if (round.aggregating) return // the running aggregation looks again when it ends
    round.aggregating = true
    try {
      // Again while signatures arrived during an aggregation that found too few good ones.
      for (let seen = -1; seen !== round.signatures.size && !round.done && !this.#stopped; ) {
        seen = round.signatures.size
        const version = round.version
        const proposedHere =
          round.checkpoint &&
          version &&
          round.signatures.get(version.index) &&
          this.#waiters.has(id)
        if (!proposedHere || round.signatures.size < version.keys.quorum) return
        const aggregated = await this.#bls.run({
          op: 'aggregate',
          keys: version.keys,
          checkpoint: round.checkpoint!,
          signatures: [...round.signatures],
        })
        for (const i of aggregated?.dropped ?? []) round.signatures.delete(i)
        if (!aggregated || this.#stopped) continue
        round.done = true
        await this.#adopt(aggregated.cosigned)
        await this.#publish({ type: 'cosigned', cosigned: aggregated.cosigned })
      }
    } finally {
      round.aggregating = false
    }
  }

  /**
   * Publishes on the checkpoint topic unless stopped. Never throws: a message that is not sent
   * costs this round (the proposer times out, the next round goes on), and after stop() the
   * network may be gone, which must not surface as a rejection nobody handles.
   */
  async #publish(message: CheckpointMessage): Promise<void> {
    if (this.#stopped) return
    try {
      await this.#opts.publish(encodeCheckpointMessage(message))
    } catch (err) {
      const level = this.#stopped ? 'debug' : 'warn'
      this.#opts.logger[level](
        { err: (err as Error).message, type: message.type },
        'checkpoint message not published',
      )
    }
  }

  async #onCosigned(cosigned: CosignedCheckpoint, fromMember: string): Promise<boolean> {
    const id = checkpointId(cosigned.checkpoint)
    if (this.#latest && checkpointId(this.#latest.checkpoint) === id) return true
    // Under a held version, or the next one (the cut happened: applied once it verifies).
    const version = this.#versions.ofRef(this.#live, cosigned.checkpoint.membership)
    if (!version) {
      // Not a version this node holds (yet): its changes come first; nothing to judge by.
      this.#opts.logger.info(
        { checkpoint: id.slice(0, 16), version: cosigned.checkpoint.membership.version },
        'cosigned checkpoint under a membership version this node does not hold: not adopted',
      )
      return false
    }
    try {
      await this.#bls.run({ op: 'verifyCosigned', keys: version.keys, cosigned })
    } catch (err) {
      if (isEhrlogError(err, 'UNAVAILABLE')) return false // stopping: not judged
      this.#opts.onIncident({
        kind: 'invalid-checkpoint',
        origin: fromMember,
        key: `${id}:${toHex(cosigned.signature).slice(0, 32)}`,
        summary: `a checkpoint relayed by ${fromMember} failed verification: ${(err as Error).message}`,
        evidence: { relayedBy: fromMember, checkpointId: id, reason: (err as Error).message },
      })
      return false
    }
    if (this.#stopped) return false
    await this.#live.applyFor(cosigned.checkpoint.membership)
    await this.#adopt(cosigned)
    return true
  }

  /** Stores a verified cosigned checkpoint if it is newer, and wakes a runRound waiting for it. */
  async #adopt(cosigned: CosignedCheckpoint): Promise<void> {
    const id = checkpointId(cosigned.checkpoint)
    if (!this.#latest || cosigned.checkpoint.timeMs > this.#latest.checkpoint.timeMs) {
      const { store } = this.#opts
      const held = cosigned.checkpoint.feeds
        .filter((f) => store.size(f.origin) >= f.treeSize)
        .map((f) => f.origin)
      this.#latest = cosigned
      this.#latestHeld = new Set(held)
      this.#opts.onAdopted?.(cosigned)
      await this.#opts.checkpoints.put(cosigned, held)
      // Proofs are answered at the newest cut. Without its entries yet (a node that was away),
      // the index commits on the first proof asked for once they are here (IndexView.prove).
      if (held.length === cosigned.checkpoint.feeds.length) {
        await this.#opts.index
          .commit(cosigned.checkpoint)
          .catch((err: unknown) =>
            this.#opts.logger.error(
              { err: (err as Error).message, checkpoint: id.slice(0, 16) },
              'the per-patient index could not commit the cosigned checkpoint',
            ),
          )
      }
      this.#opts.logger.info(
        {
          checkpoint: id.slice(0, 16),
          feeds: cosigned.checkpoint.feeds.map((f) => `${f.origin}:${f.treeSize}`),
        },
        'checkpoint cosigned',
      )
    }
    this.#waiters.get(id)?.resolve(cosigned)
    this.#waiters.delete(id)
    this.#rounds.delete(id)
  }

  #round(id: string): Round {
    let round = this.#rounds.get(id)
    if (!round) {
      if (this.#rounds.size > 256) this.#rounds.delete(this.#rounds.keys().next().value!)
      round = {
        checkpoint: undefined,
        version: undefined,
        signatures: new Map(),
        aggregating: false,
        done: false,
      }
      this.#rounds.set(id, round)
    }
    return round
  }
}
