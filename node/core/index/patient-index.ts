import { EhrlogError } from '../errors.ts'
import type { CompletenessProof, OriginIndexProof } from './completeness.ts'
import { chainNext, EMPTY_HASH, indexKey, indexSalt, indexValueHash, vrfInput } from './layout.ts'
import { SparseMerkleTree } from './smt.ts'
import { vrfKeyPair, vrfOutput, vrfProve } from './vrf.ts'

/*
 * The per-patient index of every origin's feed, in memory: a deterministic function of the
 * feeds and the network's VRF key, so every member computes the same roots. One sparse Merkle
 * tree per origin; the leaf of patient P at origin O sits at indexKey(beta_P, O) and holds
 * (count, chain over P's seqs at O), hidden by indexSalt(beta_P, O). Entries are applied in
 * feed order, every seq once, so the root at tree size n is the index of the feed's first n
 * entries. The store (next step) keeps the same state on disk; this class is the reference.
 */

interface LeafState {
  key: Uint8Array
  salt: Uint8Array
  count: number
  chain: Uint8Array
}

interface PatientState {
  /** Made on the first proof asked for: appends need only beta. */
  vrfProof?: Uint8Array
  beta: Uint8Array
  origins: Map<string, LeafState>
}

interface OriginState {
  tree: SparseMerkleTree
  treeSize: number
}

export class PatientIndex {
  private readonly secretKey: Uint8Array
  readonly vrfPublicKey: Uint8Array
  private readonly patients = new Map<string, PatientState>()
  private readonly feeds = new Map<string, OriginState>()

  /** `vrfSecretKey`: the network's 32-byte VRF secret key, held by every member. */
  constructor(vrfSecretKey: Uint8Array) {
    const pair = vrfKeyPair(vrfSecretKey)
    this.secretKey = pair.secretKey
    this.vrfPublicKey = pair.publicKey
  }

  /**
   * Applies entry `seq` of `origin`'s feed: an event about `patientId`, or (undefined) any
   * other kind of entry, which only advances the size. Seqs must come in order, each once.
   */
  applyEntry(origin: string, seq: number, patientId: string | undefined): void {
    const feed = this.feedOf(origin)
    if (seq !== feed.treeSize + 1) {
      throw new EhrlogError(
        'SEQ_MISMATCH',
        `index of ${origin} is at ${feed.treeSize}, got entry ${seq}, want ${feed.treeSize + 1}`,
        { details: { origin, seq, treeSize: feed.treeSize } },
      )
    }
    feed.treeSize = seq
    if (patientId === undefined) return
    const patient = this.patientOf(patientId)
    let leaf = patient.origins.get(origin)
    if (!leaf) {
      leaf = {
        key: indexKey(patient.beta, origin),
        salt: indexSalt(patient.beta, origin),
        count: 0,
        chain: EMPTY_HASH,
      }
      patient.origins.set(origin, leaf)
    }
    leaf.count++
    leaf.chain = chainNext(leaf.chain, seq)
    feed.tree.set(leaf.key, indexValueHash(leaf.salt, leaf.count, leaf.chain))
  }

  /** How many of `origin`'s entries the index covers. */
  treeSize(origin: string): number {
    return this.feeds.get(origin)?.treeSize ?? 0
  }

  /** The index root of `origin` at treeSize(origin) (EMPTY_HASH before any event). */
  indexRoot(origin: string): Uint8Array {
    return this.feedOf(origin).tree.root()
  }

  /** The completeness proof for `patientId` over `origins` (each at its current size). */
  prove(patientId: string, origins: readonly string[]): CompletenessProof {
    const patient = this.patientOf(patientId)
    const parts: OriginIndexProof[] = [...origins].sort().map((origin) => {
      const leaf = patient.origins.get(origin)
      const key = leaf?.key ?? indexKey(patient.beta, origin)
      const proof = this.feedOf(origin).tree.prove(key)
      return leaf
        ? { origin, opening: { count: leaf.count, chain: leaf.chain }, proof }
        : { origin, proof }
    })
    patient.vrfProof ??= vrfProve(this.secretKey, vrfInput(patientId))
    return { vrfProof: patient.vrfProof, origins: parts }
  }

  private feedOf(origin: string): OriginState {
    let feed = this.feeds.get(origin)
    if (!feed) {
      feed = { tree: new SparseMerkleTree(), treeSize: 0 }
      this.feeds.set(origin, feed)
    }
    return feed
  }

  /** The patient's state; its VRF output is computed once per patient (a scalar multiplication). */
  private patientOf(patientId: string): PatientState {
    let patient = this.patients.get(patientId)
    if (!patient) {
      patient = { beta: vrfOutput(this.secretKey, vrfInput(patientId)), origins: new Map() }
      this.patients.set(patientId, patient)
    }
    return patient
  }
}
