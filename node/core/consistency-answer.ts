import {
  type CheckpointKeys,
  type CosignedCheckpoint,
  type CosignedCheckpointJson,
  cosignedFromJson,
  feedCutOf,
  verifyCosignedCheckpoint,
} from './checkpoint.ts'
import { EhrlogError } from './errors.ts'
import { bytesEqual, fromHex, toHex } from './hex.ts'
import { ORIGIN_PATTERN } from './layout.ts'
import { verifyConsistency } from './merkle/index.ts'

/*
 * Consistency between two cosigned checkpoints (docs/query.md "Consistency since a kept
 * checkpoint"): a client that kept an older checkpoint asks any node for RFC 9162 consistency
 * proofs (section 2.1.4), per origin, from that checkpoint's tree sizes to the node's latest
 * checkpoint. Pure: the CLI and the browser run the check.
 */

/** Origins one request may name: far above any network's member count. */
const MAX_ORIGINS = 256

/** One origin's proof: the feed of size `fromSize` is a prefix of the one of size `toSize`. */
export interface ConsistencyProofJson {
  origin: string
  fromSize: number
  toSize: number
  /** Hex hashes; empty when fromSize is 0 or equals toSize, or when fromSize > toSize. */
  proof: string[]
}

/** What a node answers (HTTP `GET /api/v1/checkpoint/consistency`, libp2p `consistency`). */
export interface ConsistencyAnswerJson {
  v: 1
  /** The node's latest cosigned checkpoint. */
  cosigned: CosignedCheckpointJson
  /** One per origin asked about that the latest checkpoint has; in the order asked. */
  proofs: ConsistencyProofJson[]
}

/**
 * Parses `from` as the client sends it, `origin:size,origin:size,…` (the tree sizes of its
 * kept checkpoint), into origin → size. Untrusted: ARGUMENT_INVALID naming the field `from`.
 */
export function parseConsistencyFrom(input: unknown): Map<string, number> {
  const bad = (why: string) =>
    new EhrlogError('ARGUMENT_INVALID', `from ${why}: want origin:treeSize,origin:treeSize,…`, {
      details: { field: 'from' },
    })
  if (typeof input !== 'string' || input === '') throw bad('is missing or not a string')
  const parts = input.split(',')
  if (parts.length > MAX_ORIGINS) throw bad(`names more than ${MAX_ORIGINS} origins`)
  const out = new Map<string, number>()
  for (const part of parts) {
    const at = part.lastIndexOf(':')
    const origin = part.slice(0, at)
    const size = part.slice(at + 1)
    if (at < 0 || !ORIGIN_PATTERN.test(origin) || !/^(0|[1-9]\d{0,14})$/.test(size))
      throw bad(`has ${JSON.stringify(part.slice(0, 80))}`)
    if (out.has(origin)) throw bad(`names ${origin} twice`)
    out.set(origin, Number(size))
  }
  return out
}

/** `from` for a kept checkpoint: each of its feeds' origin and tree size. */
export function consistencyFromOf(kept: CosignedCheckpoint): string {
  return kept.checkpoint.feeds.map((f) => `${f.origin}:${f.treeSize}`).join(',')
}

export interface ConsistencyVerdict {
  latest: CosignedCheckpoint
  /** Indexes (membership order) of the latest checkpoint's signers. */
  signers: number[]
  /** Each origin of the kept checkpoint: its size then and now. */
  origins: { origin: string; fromSize: number; toSize: number }[]
}

/**
 * Checks that the latest checkpoint in `answer` extends `kept`: its cosignature (quorum of
 * `blsKeys`), then for every feed of `kept` a consistency proof from the kept (size, root) to
 * the latest (size, root). Throws INVALID_PROOF naming the origin whose history was rewritten,
 * truncated or dropped; UNAVAILABLE when the node's latest checkpoint is older than `kept`
 * (ask another node); INVALID_SIGNATURE when the latest checkpoint does not verify.
 * Precondition: `kept` itself was verified under the same keys.
 */
export function verifyConsistencyAnswer(
  kept: CosignedCheckpoint,
  answer: unknown,
  trust: CheckpointKeys,
): ConsistencyVerdict {
  const a = (
    typeof answer === 'object' && answer !== null ? answer : {}
  ) as Partial<ConsistencyAnswerJson>
  const latest = cosignedFromJson(a.cosigned)
  const signers = verifyCosignedCheckpoint(latest, trust)
  const proofs = new Map<string, Partial<ConsistencyProofJson>>()
  for (const p of Array.isArray(a.proofs) ? (a.proofs as Partial<ConsistencyProofJson>[]) : [])
    if (typeof p?.origin === 'string' && !proofs.has(p.origin)) proofs.set(p.origin, p)
  const origins: ConsistencyVerdict['origins'] = []
  for (const old of kept.checkpoint.feeds) {
    const rewritten = (why: string, evidence: Record<string, unknown> = {}) =>
      new EhrlogError('INVALID_PROOF', `the history of ${old.origin} was rewritten: ${why}`, {
        details: { origin: old.origin, fromSize: old.treeSize, ...evidence },
      })
    const now = feedCutOf(latest.checkpoint, old.origin)
    if (latest.checkpoint.timeMs < kept.checkpoint.timeMs && (!now || now.treeSize < old.treeSize))
      throw new EhrlogError(
        'UNAVAILABLE',
        `the node's latest checkpoint (${new Date(latest.checkpoint.timeMs).toISOString()}) is older than yours: ask another node`,
      )
    if (!now && old.treeSize === 0) continue // an empty feed has no history to keep
    if (!now)
      throw rewritten(`the latest checkpoint has no feed ${old.origin}, yours had ${old.treeSize}`)
    if (now.treeSize < old.treeSize)
      throw rewritten(`its feed shrank from ${old.treeSize} to ${now.treeSize} entries`)
    if (now.treeSize === old.treeSize) {
      if (!bytesEqual(now.root, old.root))
        throw rewritten(`another root at the same tree size ${old.treeSize}`, {
          oldRoot: toHex(old.root),
          newRoot: toHex(now.root),
        })
    } else {
      const p = proofs.get(old.origin)
      const hashes = Array.isArray(p?.proof) ? p.proof.map((h) => fromHex(String(h), 32)) : []
      if (!p || p.fromSize !== old.treeSize || p.toSize !== now.treeSize || hashes.some((h) => !h))
        throw new EhrlogError(
          'INVALID_PROOF',
          `the node sent no usable consistency proof for ${old.origin} from ${old.treeSize} to ${now.treeSize}`,
          { details: { origin: old.origin } },
        )
      try {
        verifyConsistency(old.treeSize, now.treeSize, old.root, now.root, hashes as Uint8Array[])
      } catch (err) {
        throw rewritten(
          `the feed at ${now.treeSize} does not extend the one you kept at ${old.treeSize} (${(err as Error).message})`,
          { oldRoot: toHex(old.root), newRoot: toHex(now.root), proof: p.proof },
        )
      }
    }
    origins.push({ origin: old.origin, fromSize: old.treeSize, toSize: now.treeSize })
  }
  return { latest, signers, origins }
}
