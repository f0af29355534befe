import { EhrlogError } from '../errors.ts'
import { bytesEqual, toHex } from '../hex.ts'
import { chainNext, EMPTY_HASH, indexKey, indexSalt, indexValueHash, vrfInput } from './layout.ts'
import { type SmtProof, verifySmtAbsence, verifySmtMembership } from './smt-proof.ts'
import { vrfVerify } from './vrf.ts'

/*
 * A completeness proof: that an answer holds every `event` entry about one patient in every
 * origin's feed up to a cut, and no other (docs/architecture.md, "Complete answers"). What the
 * client checks alone: the VRF proof gives beta for the patient id it asked about; beta gives
 * the patient's tree key and leaf salt at each origin; each origin's sparse Merkle tree proof
 * shows the leaf (count, chain over the patient's seqs) or its absence under the origin's index
 * root; the entries of the answer must produce exactly that count and chain.
 */

/** The opening of a patient's leaf at one origin: how many entries, and the chain over their seqs. */
export interface LeafOpening {
  count: number
  chain: Uint8Array
}

export interface OriginIndexProof {
  origin: string
  /** Present exactly when the proof is of membership (the patient has entries at the origin). */
  opening?: LeafOpening
  proof: SmtProof
}

export interface CompletenessProof {
  /** ECVRF proof (80 bytes) of vrfInput(patient id) under the network's VRF key. */
  vrfProof: Uint8Array
  /** One per origin of the cut, sorted by origin name. */
  origins: OriginIndexProof[]
}

/** One origin's part of a cut, as a cosigned checkpoint commits to it. */
export interface IndexCut {
  treeSize: number
  indexRoot: Uint8Array
}

/** An entry of the answer: where it is, and the patient id its (already verified) event names. */
export interface AnsweredEntry {
  origin: string
  seq: number
  patientId: string
}

/** Why a completeness proof is refused (details.reason of the INVALID_PROOF error). */
export type CompletenessFailure =
  | 'vrf-invalid'
  | 'origin-missing'
  | 'origin-unknown'
  | 'entry-other-patient'
  | 'entry-after-cut'
  | 'entry-duplicate'
  | 'index-proof-invalid'
  | 'absence-proof-invalid'
  | 'entries-missing'
  | 'entries-extra'
  | 'entries-differ'

export interface CompletenessResult {
  patientId: string
  origins: { origin: string; treeSize: number; count: number }[]
}

function refuse(
  reason: CompletenessFailure,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): EhrlogError {
  return new EhrlogError('INVALID_PROOF', message, { cause, details: { reason, ...details } })
}

/** The chain over seqs (in feed order): chainNext from EMPTY_HASH. */
export function chainOfSeqs(seqs: readonly number[]): Uint8Array {
  let chain = EMPTY_HASH
  for (const seq of seqs) chain = chainNext(chain, seq)
  return chain
}

/**
 * Checks that `entries` is exactly every entry about `patientId` up to `cut` (origin -> tree
 * size and index root, taken from a cosigned checkpoint the caller verified), under the
 * network's VRF public key. The caller also checks each entry's inclusion at the same cut.
 * Throws INVALID_PROOF with details.reason a CompletenessFailure and the origin concerned.
 */
export function verifyCompleteness(input: {
  vrfPublicKey: Uint8Array
  patientId: string
  cut: ReadonlyMap<string, IndexCut>
  proof: CompletenessProof
  entries: readonly AnsweredEntry[]
}): CompletenessResult {
  const { vrfPublicKey, patientId, cut, proof, entries } = input
  let beta: Uint8Array
  try {
    beta = vrfVerify(vrfPublicKey, vrfInput(patientId), proof.vrfProof)
  } catch (err) {
    throw refuse(
      'vrf-invalid',
      `the answer's index key is not patient ${patientId}'s: its VRF proof does not verify`,
      { patientId },
      err,
    )
  }
  const seqsByOrigin = groupEntries(patientId, cut, entries)
  const byOrigin = new Map(proof.origins.map((p) => [p.origin, p]))
  for (const p of proof.origins) {
    if (!cut.has(p.origin)) {
      throw refuse('origin-unknown', `the proof covers origin ${p.origin}, not in the checkpoint`, {
        origin: p.origin,
      })
    }
  }
  const origins: CompletenessResult['origins'] = []
  for (const [origin, { treeSize, indexRoot }] of [...cut].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const part = byOrigin.get(origin)
    if (!part) {
      throw refuse('origin-missing', `the proof says nothing about origin ${origin}`, { origin })
    }
    const seqs = seqsByOrigin.get(origin) ?? []
    const key = indexKey(beta, origin)
    const where = { origin, patientId, treeSize, key: toHex(key) }
    if (!part.opening) {
      try {
        verifySmtAbsence(indexRoot, key, part.proof)
      } catch (err) {
        throw refuse(
          'absence-proof-invalid',
          `the proof that patient ${patientId} has no entries at ${origin} up to ${treeSize} does not verify`,
          where,
          err,
        )
      }
      if (seqs.length > 0) {
        throw refuse(
          'entries-extra',
          `${seqs.length} entries at ${origin}, but the index holds none for patient ${patientId}`,
          { ...where, seqs },
        )
      }
      origins.push({ origin, treeSize, count: 0 })
      continue
    }
    const { count, chain } = part.opening
    const valueHash = indexValueHash(indexSalt(beta, origin), count, chain)
    try {
      verifySmtMembership(indexRoot, key, valueHash, part.proof)
    } catch (err) {
      throw refuse(
        'index-proof-invalid',
        `the index proof for patient ${patientId} at ${origin} does not verify`,
        where,
        err,
      )
    }
    if (seqs.length < count) {
      throw refuse(
        'entries-missing',
        `${count - seqs.length} of patient ${patientId}'s ${count} entries at ${origin} up to ${treeSize} are missing`,
        { ...where, want: count, got: seqs.length },
      )
    }
    if (seqs.length > count) {
      throw refuse(
        'entries-extra',
        `${seqs.length} entries at ${origin}, but the index holds ${count} for patient ${patientId}`,
        { ...where, want: count, got: seqs.length },
      )
    }
    if (!bytesEqual(chainOfSeqs(seqs), chain)) {
      throw refuse(
        'entries-differ',
        `the ${count} entries at ${origin} are not the ones the index holds for patient ${patientId}`,
        { ...where, seqs },
      )
    }
    origins.push({ origin, treeSize, count })
  }
  return { patientId, origins }
}

/** The answer's seqs per origin, ascending; refuses entries of others, after the cut, or twice. */
function groupEntries(
  patientId: string,
  cut: ReadonlyMap<string, IndexCut>,
  entries: readonly AnsweredEntry[],
): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const e of entries) {
    const at = { origin: e.origin, seq: e.seq }
    if (e.patientId !== patientId) {
      throw refuse(
        'entry-other-patient',
        `entry ${e.origin}/${e.seq} is about patient ${e.patientId}, not ${patientId}`,
        at,
      )
    }
    const part = cut.get(e.origin)
    if (!part)
      throw refuse('origin-unknown', `entry ${e.origin}/${e.seq}: origin not in the checkpoint`, at)
    if (!Number.isSafeInteger(e.seq) || e.seq < 1 || e.seq > part.treeSize) {
      throw refuse(
        'entry-after-cut',
        `entry ${e.origin}/${e.seq} is not within the checkpoint's ${part.treeSize} entries`,
        at,
      )
    }
    const list = out.get(e.origin) ?? []
    list.push(e.seq)
    out.set(e.origin, list)
  }
  for (const [origin, seqs] of out) {
    seqs.sort((a, b) => a - b)
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] === seqs[i - 1]) {
        throw refuse('entry-duplicate', `entry ${origin}/${seqs[i]} is in the answer twice`, {
          origin,
          seq: seqs[i],
        })
      }
    }
  }
  return out
}
