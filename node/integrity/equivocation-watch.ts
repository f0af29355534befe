import { entryId } from '../core/entry.ts'
import { toHex } from '../core/hex.ts'
import type { Logger } from '../logger.ts'
import type { FeedBatch, ScrubView } from '../store/index.ts'
import { evidenceFromConflict } from './equivocation.ts'
import {
  decodeEvidence,
  type EquivocationEvidence,
  encodeEvidence,
  equivocationKey,
  evidenceToJson,
  verifyEquivocation,
} from './evidence.ts'
import type { IntegrityIncident } from './incident.ts'

export interface EquivocationWatchOptions {
  self: string
  store: ScrubView
  /** An origin's Ed25519 tree-head key from the membership; undefined: not a member. */
  originKey: (origin: string) => Uint8Array | undefined
  /** Gossips evidence on the member-only 'evidence' control topic. */
  publish: (data: Uint8Array) => Promise<void>
  onIncident: (incident: IntegrityIncident) => void
  /** The conflict is not provable from here: check this replica instead. */
  onUnprovable: (origin: string) => void
  logger: Logger
}

/**
 * Equivocation: an origin that signs two different entries for one seq. Found where a batch
 * conflicts with this replica (the store's EQUIVOCATION), proven with both signed versions,
 * gossiped to every member, and checked by each of them before it reports its own incident.
 * Reported once per origin and seq on each node.
 */
export class EquivocationWatch {
  readonly #opts: EquivocationWatchOptions
  readonly #reported = new Set<string>()

  constructor(opts: EquivocationWatchOptions) {
    this.#opts = opts
  }

  /** A batch the store refused with EQUIVOCATION: prove it, report it, tell the others. */
  async onConflict(batch: FeedBatch): Promise<void> {
    const originKey = this.#opts.originKey(batch.origin)
    const evidence = originKey && (await evidenceFromConflict(this.#opts.store, batch, originKey))
    if (!evidence) {
      this.#opts.logger.warn(
        { origin: batch.origin, treeSize: batch.head.treeSize },
        'a signed head conflicts with this replica but no evidence verifies: checking the replica',
      )
      this.#opts.onUnprovable(batch.origin)
      return
    }
    if (!this.#report(evidence, this.#opts.self)) return
    await this.#opts
      .publish(encodeEvidence(evidence))
      .catch((err: unknown) =>
        this.#opts.logger.warn({ err: (err as Error).message }, 'could not gossip evidence'),
      )
  }

  /** Control-topic handler: true (forward) for evidence that verifies, false (reject) else. */
  handle(data: Uint8Array, fromMember: string): boolean {
    const evidence = decodeEvidence(data)
    const originKey = this.#opts.originKey(evidence.origin)
    if (!originKey) return false
    try {
      verifyEquivocation(evidence, originKey)
    } catch (err) {
      this.#opts.logger.warn(
        { relayedBy: fromMember, origin: evidence.origin, err: (err as Error).message },
        'rejected equivocation evidence: it does not verify',
      )
      return false
    }
    this.#report(evidence, fromMember)
    return true
  }

  /** Reports once per key; false when already reported. */
  #report(evidence: EquivocationEvidence, from: string): boolean {
    const key = equivocationKey(evidence)
    if (this.#reported.has(key)) return false
    this.#reported.add(key)
    const { origin } = evidence
    const at = evidence.type === 'entries' ? evidence.seq : undefined
    const incident: IntegrityIncident = {
      kind: 'equivocation',
      reportingNode: this.#opts.self,
      origin,
      ...(at === undefined ? {} : { seqFrom: at, seqTo: at }),
      entryIds: at === undefined ? [] : [entryId(origin, at)],
      detectedAt: new Date().toISOString(),
      summary: summaryOf(evidence),
      evidence: {
        // Without the entries' bytes: alerts leave the node as email and sit in its folder
        // as files, and must not carry patient data. The hashes are the proof.
        ...evidenceToJson(evidence, { entries: false }),
        foundBy: from,
        proof:
          evidence.type === 'entries'
            ? 'two different entry hashes at one seq (leaf seq-1), each with an inclusion proof into a tree head the origin signed; the entries themselves are left out (patient data) and are not needed to check it'
            : 'two different roots signed by one origin for the same tree size, shown by a consistency proof',
      },
      key,
    }
    this.#opts.logger.error({ incident: { ...incident, evidence: undefined } }, incident.summary)
    this.#opts.onIncident(incident)
    return true
  }
}

function summaryOf(evidence: EquivocationEvidence): string {
  const short = (b: Uint8Array) => `${toHex(b).slice(0, 16)}…`
  if (evidence.type === 'entries') {
    const { origin, seq, a, b } = evidence
    return `${origin} signed two different entries for ${entryId(origin, seq)}: hash ${short(a.leafHash)} under its head at size ${a.head.treeSize} and hash ${short(b.leafHash)} under its head at size ${b.head.treeSize}.`
  }
  const { origin, treeSize, a, bRoot } = evidence
  return `${origin} signed two different roots for tree size ${treeSize}: ${short(a.root)} and ${short(bRoot)}.`
}
