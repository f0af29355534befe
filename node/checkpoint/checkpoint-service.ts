import { blsSign, blsVerify } from '../core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  type CosignedCheckpoint,
  checkpointId,
  checkpointSigningMessage,
  defaultQuorum,
  type FeedCut,
  verifyCosignedCheckpoint,
} from '../core/checkpoint.ts'
import { EhrlogError } from '../core/errors.ts'
import { bytesEqual, fromHex, toHex } from '../core/hex.ts'
import { EMPTY_ROOT, verifyConsistency } from '../core/merkle/index.ts'
import type { Logger } from '../logger.ts'
import type { Membership } from '../net/index.ts'
import type { CheckpointLog, LogStore } from '../store/index.ts'
import {
  type CheckpointMessage,
  decodeCheckpointMessage,
  encodeCheckpointMessage,
} from './messages.ts'

/** Something wrong found while checking checkpoints: for the alerts. */
export interface CheckpointIncident {
  kind: 'diverged' | 'invalid-checkpoint'
  origin: string
  /** Deduplicates reports of the same incident. */
  key: string
  summary: string
  evidence: Record<string, unknown>
}

export interface CheckpointServiceOptions {
  self: string
  membership: Membership
  blsSecretKey: Uint8Array
  store: LogStore
  checkpoints: CheckpointLog
  publish: (data: Uint8Array) => Promise<void>
  /** Pulls missing entries from peers now. */
  syncNow: () => Promise<void>
  onIncident: (incident: CheckpointIncident) => void
  logger: Logger
  /** Time between scheduled rounds; 0: rounds only on demand (default 10,000 ms). */
  intervalMs?: number
  /** Cosigners needed (default: a majority of members). */
  quorum?: number
  /** How long a node waits for entries it lacks before judging a proposal (default 5,000 ms). */
  syncWaitMs?: number
  /** How long runRound waits for a quorum (default 10,000 ms). */
  roundTimeoutMs?: number
}

interface Round {
  checkpoint: Checkpoint | undefined
  signatures: Map<number, Uint8Array>
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
  readonly #index: number
  readonly #blsKeys: Uint8Array[]
  readonly #networkId: Uint8Array
  readonly #quorum: number
  readonly #rounds = new Map<string, Round>()
  readonly #waiters = new Map<string, (c: CosignedCheckpoint) => void>()
  #latest: CosignedCheckpoint | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(opts: CheckpointServiceOptions) {
    this.#opts = opts
    const members = opts.membership.members
    this.#index = members.findIndex((m) => m.name === opts.self)
    if (this.#index < 0) throw new EhrlogError('CONFIG_INVALID', `${opts.self} is not a member`)
    this.#blsKeys = members.map((m) => fromHex(m.blsPublicKey, 48)!)
    this.#networkId = fromHex(opts.membership.networkId, 32)!
    this.#quorum = opts.quorum ?? defaultQuorum(members.length)
  }

  async start(): Promise<void> {
    this.#latest = await this.#opts.checkpoints.latest()
    const interval = this.#opts.intervalMs ?? 10_000
    if (interval > 0) this.#timer = setInterval(() => this.#onTick(interval), interval)
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** The newest cosigned checkpoint this node verified. */
  latest(): CosignedCheckpoint | undefined {
    return this.#latest
  }

  /** Proposes a checkpoint of this node's replica now; resolves once a quorum cosigned it. */
  async runRound(): Promise<CosignedCheckpoint> {
    const checkpoint = this.#cut()
    const id = checkpointId(checkpoint)
    const done = new Promise<CosignedCheckpoint>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id)
        reject(
          new EhrlogError(
            'UNAVAILABLE',
            `checkpoint round ${id.slice(0, 12)}… got no quorum of ${this.#quorum} in time`,
          ),
        )
      }, this.#opts.roundTimeoutMs ?? 10_000)
      this.#waiters.set(id, (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    const signature = blsSign(this.#opts.blsSecretKey, checkpointSigningMessage(checkpoint))
    this.#round(id).checkpoint = checkpoint
    await this.#addSignature(id, this.#index, signature)
    await this.#opts.publish(
      encodeCheckpointMessage({ type: 'propose', checkpoint, signer: this.#index, signature }),
    )
    return done
  }

  /** Control-topic handler: true forwards the message, false rejects it. */
  async handle(data: Uint8Array, fromMember: string): Promise<boolean> {
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
    if (slot % this.#blsKeys.length !== this.#index || !this.#changedSinceLatest()) return
    this.runRound().catch((err: unknown) =>
      this.#opts.logger.warn({ err: (err as Error).message }, 'scheduled checkpoint round failed'),
    )
  }

  #changedSinceLatest(): boolean {
    const latest = this.#latest?.checkpoint.feeds
    return this.#cut().feeds.some(
      (cut) => latest?.find((f) => f.origin === cut.origin)?.treeSize !== cut.treeSize,
    )
  }

  /** This node's view: every member's feed at the size it holds on disk. */
  #cut(): Checkpoint {
    const feeds: FeedCut[] = [...this.#opts.membership.members]
      .map((m) => m.name)
      .sort()
      .map((origin) => {
        const treeSize = this.#opts.store.size(origin)
        return { origin, treeSize, root: this.#opts.store.latestHead(origin)?.root ?? EMPTY_ROOT }
      })
    return { networkId: this.#networkId, timeMs: Date.now(), feeds }
  }

  #onPropose(message: Extract<CheckpointMessage, { type: 'propose' }>): boolean {
    const { checkpoint, signer, signature } = message
    const key = this.#blsKeys[signer]
    if (!key || toHex(checkpoint.networkId) !== toHex(this.#networkId)) return false
    if (!blsVerify(key, checkpointSigningMessage(checkpoint), signature)) return false
    const id = checkpointId(checkpoint)
    const round = this.#round(id)
    if (round.checkpoint) return true // seen already
    round.checkpoint = checkpoint
    round.signatures.set(signer, signature)
    // Judging may wait for a sync: done after the validator has let the proposal travel on.
    setImmediate(() => {
      this.#consider(id, checkpoint, signer).catch((err: unknown) =>
        this.#opts.logger.warn(
          { err: (err as Error).message, checkpoint: id },
          'could not judge a checkpoint proposal',
        ),
      )
    })
    return true
  }

  /** Signs the proposal if this replica holds exactly its roots and they extend the latest checkpoint. */
  async #consider(id: string, checkpoint: Checkpoint, proposer: number): Promise<void> {
    const { store } = this.#opts
    await this.#awaitEntries(checkpoint)
    for (const cut of checkpoint.feeds) {
      if (store.size(cut.origin) < cut.treeSize) {
        this.#opts.logger.info(
          { origin: cut.origin, want: cut.treeSize, have: store.size(cut.origin) },
          'not signing a checkpoint: entries still missing',
        )
        return
      }
      const ours = await store.rootAt(cut.origin, cut.treeSize)
      if (!bytesEqual(ours, cut.root)) {
        this.#opts.onIncident({
          kind: 'diverged',
          origin: cut.origin,
          key: `${cut.origin}:${cut.treeSize}:${toHex(cut.root)}`,
          summary: `${this.#memberName(proposer)} holds root ${toHex(cut.root).slice(0, 16)}… for ${cut.origin} at size ${cut.treeSize}; ${this.#opts.self} holds ${toHex(ours).slice(0, 16)}…`,
          evidence: {
            origin: cut.origin,
            treeSize: cut.treeSize,
            theirRoot: toHex(cut.root),
            ourRoot: toHex(ours),
            nodes: [this.#memberName(proposer), this.#opts.self],
          },
        })
        return
      }
    }
    if (!(await this.#extendsLatest(checkpoint))) return
    const signature = blsSign(this.#opts.blsSecretKey, checkpointSigningMessage(checkpoint))
    await this.#addSignature(id, this.#index, signature)
    await this.#opts.publish(
      encodeCheckpointMessage({ type: 'cosign', id, signer: this.#index, signature }),
    )
  }

  /** Each feed's cut must extend the latest cosigned one: RFC 9162 consistency, per origin. */
  async #extendsLatest(checkpoint: Checkpoint): Promise<boolean> {
    const latest = this.#latest?.checkpoint
    if (!latest) return true
    if (checkpoint.timeMs <= latest.timeMs) return false // stale or replayed
    for (const old of latest.feeds) {
      const cut = checkpoint.feeds.find((f) => f.origin === old.origin)
      if (!cut || cut.treeSize < old.treeSize) return false
      if (old.treeSize === 0) continue
      const proof = await this.#opts.store.consistencyProof(old.origin, old.treeSize, cut.treeSize)
      try {
        verifyConsistency(old.treeSize, cut.treeSize, old.root, cut.root, proof)
      } catch {
        this.#opts.logger.error(
          { origin: old.origin, from: old.treeSize, to: cut.treeSize },
          'replica is not consistent with the latest cosigned checkpoint: refusing to sign',
        )
        return false
      }
    }
    return true
  }

  async #awaitEntries(checkpoint: Checkpoint): Promise<void> {
    const lacking = () => checkpoint.feeds.some((c) => this.#opts.store.size(c.origin) < c.treeSize)
    if (!lacking()) return
    await this.#opts.syncNow().catch(() => {})
    const deadline = Date.now() + (this.#opts.syncWaitMs ?? 5000)
    while (lacking() && Date.now() < deadline && !this.#stopped)
      await new Promise((r) => setTimeout(r, 50))
  }

  #onCosign(message: Extract<CheckpointMessage, { type: 'cosign' }>): boolean {
    if (!this.#blsKeys[message.signer]) return false
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
    const proposedHere =
      round.checkpoint && round.signatures.get(this.#index) && this.#waiters.has(id)
    if (!proposedHere || round.signatures.size < this.#quorum) return
    const cosigned = this.#aggregate(round)
    if (!cosigned) return
    round.done = true
    await this.#adopt(cosigned)
    await this.#opts.publish(encodeCheckpointMessage({ type: 'cosigned', cosigned }))
  }

  /** Aggregates; if the aggregate fails, drops the signatures that fail alone and retries. */
  #aggregate(round: Round): CosignedCheckpoint | undefined {
    const checkpoint = round.checkpoint!
    const n = this.#blsKeys.length
    let cosigned = aggregateCosignatures(checkpoint, round.signatures, n)
    try {
      verifyCosignedCheckpoint(cosigned, this.#networkId, this.#blsKeys, this.#quorum)
      return cosigned
    } catch {
      const message = checkpointSigningMessage(checkpoint)
      for (const [i, sig] of round.signatures)
        if (!blsVerify(this.#blsKeys[i]!, message, sig)) round.signatures.delete(i)
      if (round.signatures.size < this.#quorum) return undefined
      cosigned = aggregateCosignatures(checkpoint, round.signatures, n)
      return cosigned
    }
  }

  async #onCosigned(cosigned: CosignedCheckpoint, fromMember: string): Promise<boolean> {
    const id = checkpointId(cosigned.checkpoint)
    if (this.#latest && checkpointId(this.#latest.checkpoint) === id) return true
    try {
      verifyCosignedCheckpoint(cosigned, this.#networkId, this.#blsKeys, this.#quorum)
    } catch (err) {
      this.#opts.onIncident({
        kind: 'invalid-checkpoint',
        origin: fromMember,
        key: `${id}:${toHex(cosigned.signature).slice(0, 32)}`,
        summary: `a checkpoint relayed by ${fromMember} failed verification: ${(err as Error).message}`,
        evidence: { relayedBy: fromMember, checkpointId: id, reason: (err as Error).message },
      })
      return false
    }
    await this.#adopt(cosigned)
    return true
  }

  /** Stores a verified cosigned checkpoint if it is newer, and wakes a runRound waiting for it. */
  async #adopt(cosigned: CosignedCheckpoint): Promise<void> {
    const id = checkpointId(cosigned.checkpoint)
    if (!this.#latest || cosigned.checkpoint.timeMs > this.#latest.checkpoint.timeMs) {
      this.#latest = cosigned
      await this.#opts.checkpoints.put(cosigned)
      this.#opts.logger.info(
        {
          checkpoint: id.slice(0, 16),
          feeds: cosigned.checkpoint.feeds.map((f) => `${f.origin}:${f.treeSize}`),
        },
        'checkpoint cosigned',
      )
    }
    this.#waiters.get(id)?.(cosigned)
    this.#waiters.delete(id)
    this.#rounds.delete(id)
  }

  #round(id: string): Round {
    let round = this.#rounds.get(id)
    if (!round) {
      if (this.#rounds.size > 256) this.#rounds.delete(this.#rounds.keys().next().value!)
      round = { checkpoint: undefined, signatures: new Map(), done: false }
      this.#rounds.set(id, round)
    }
    return round
  }

  #memberName(index: number): string {
    return this.#opts.membership.members[index]?.name ?? `member ${index}`
  }
}
