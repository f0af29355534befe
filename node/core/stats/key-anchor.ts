import { concatBytes } from '@noble/curves/utils.js'
import type { CosignedCheckpoint } from '../checkpoint.ts'
import { EhrlogError } from '../errors.ts'
import { type AnchorCheckpoint, type AnchoredStatsEntry, openStatsAnchor } from './anchor.ts'
import { combineDealings, type Dealing, type StatsKey } from './dkg.ts'
import { bytesHex, hexBytes } from './stats-entry.ts'

/*
 * The key's provenance in a statistics bundle (docs/format.md, "Key anchors"): the `dkg-key`
 * entries of at least k members and the `dkg-dealing` entries of the dealers they name as
 * qualified, each anchored into a cosigned checkpoint as a hospital's counters are (anchor.ts).
 * An outsider then needs no key from anywhere: it re-checks each dealing's proof of knowledge
 * (bound to the network id the checkpoints carry and to the generation), sums the qualified
 * dealings' commitments, and requires the sum to be the bundle's key and every anchored
 * `dkg-key` entry to say so. With the checkpoints' cosignatures checked against network.json,
 * the key is the one k members recorded in their own feeds: the same k who could decrypt
 * anything anyway.
 */

/** The bundle's optional trailer: u8 A (1..255) || A × (u32 len || anchor); empty when none. */
export function encodeKeyAnchors(anchors: readonly Uint8Array[]): Uint8Array {
  if (anchors.length === 0) return new Uint8Array(0)
  if (anchors.length > 255) throw new EhrlogError('ARGUMENT_INVALID', 'more than 255 key anchors')
  const parts: Uint8Array[] = [Uint8Array.of(anchors.length)]
  for (const a of anchors) {
    const len = new Uint8Array(4)
    new DataView(len.buffer).setUint32(0, a.length)
    parts.push(len, a)
  }
  return concatBytes(...parts)
}

/** The trailer's anchors (FILE_INVALID `malformed` when it does not parse to its end). */
export function decodeKeyAnchors(bytes: Uint8Array): Uint8Array[] | undefined {
  if (bytes.length === 0) return undefined
  const bad = (what: string) =>
    new EhrlogError('FILE_INVALID', `statistics bundle: the key anchors ${what}`, {
      details: { reason: 'malformed' },
    })
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = bytes[0]!
  if (count === 0) throw bad('trailer names no anchor')
  const out: Uint8Array[] = []
  let at = 1
  for (let a = 0; a < count; a++) {
    if (at + 4 > bytes.length) throw bad(`end inside anchor ${a}'s length`)
    const len = view.getUint32(at)
    at += 4
    if (at + len > bytes.length) throw bad(`end inside anchor ${a}`)
    out.push(bytes.subarray(at, at + len))
    at += len
  }
  if (at !== bytes.length) throw bad(`are followed by ${bytes.length - at} bytes`)
  return out
}

export interface KeyProvenance {
  generation: number
  /** The origins whose anchored `dkg-key` entry states the key (at least k, distinct). */
  attestedBy: string[]
  /** The qualified dealers (member indexes) whose anchored dealings sum to the key. */
  qualified: number[]
  checkpoints: CosignedCheckpoint[]
}

function keyAnchorError(message: string, details: Record<string, unknown> = {}): EhrlogError {
  return new EhrlogError('INVALID_PROOF', `statistics bundle: key anchors: ${message}`, {
    details: { reason: 'key-anchor-invalid', ...details },
  })
}

/**
 * Checks the key anchors against the bundle's key. Throws INVALID_PROOF with reason
 * `key-anchor-invalid` naming what does not hold; returns who attested the key. A checkpoint
 * text in `checkpoints` (e.g. the one the hospitals' anchors rest on) is not parsed again.
 */
export function verifyKeyAnchors(
  key: StatsKey,
  anchors: readonly Uint8Array[],
  checkpoints?: Map<string, AnchorCheckpoint>,
): KeyProvenance {
  const opened: AnchoredStatsEntry[] = anchors.map((bytes, i) =>
    openStatsAnchor(`key anchor ${i}`, bytes, undefined, checkpoints ? { checkpoints } : {}),
  )
  const keys = opened.filter((a) => a.body.type === 'dkg-key')
  const dealings = opened.filter((a) => a.body.type === 'dkg-dealing')
  if (keys.length + dealings.length !== opened.length)
    throw keyAnchorError('an anchored entry is neither a dkg-key nor a dkg-dealing entry')
  const first = keys[0]?.body
  if (first?.type !== 'dkg-key') throw keyAnchorError('no anchored dkg-key entry')
  const want = key.commitments.map((c) => bytesHex(c.toBytes())).join()
  const attestedBy = new Set<string>()
  for (const a of keys) {
    const b = a.body as Extract<AnchoredStatsEntry['body'], { type: 'dkg-key' }>
    if (b.generation !== first.generation || b.qualified.join() !== first.qualified.join())
      throw keyAnchorError(`${a.origin}'s dkg-key entry is of another generation or qualified set`)
    if (b.n !== key.n || b.k !== key.k || b.commitments.join() !== want)
      throw keyAnchorError(`${a.origin}'s dkg-key entry states another key than the bundle's`, {
        origin: a.origin,
      })
    if (attestedBy.has(a.origin)) throw keyAnchorError(`${a.origin}'s dkg-key entry is repeated`)
    attestedBy.add(a.origin)
  }
  if (attestedBy.size < key.k)
    throw keyAnchorError(
      `${attestedBy.size} members' dkg-key entries anchored; the key needs ${key.k} of ${key.n}`,
    )
  const networkIds = new Set(opened.map((a) => bytesHex(a.cosigned.checkpoint.networkId)))
  if (networkIds.size !== 1) throw keyAnchorError('the anchors rest on checkpoints of two networks')
  const context = new TextEncoder().encode(`${[...networkIds][0]}/${first.generation}`)
  const byDealer = new Map<number, Dealing>()
  const dealers = new Set<string>()
  for (const a of dealings) {
    const b = a.body as Extract<AnchoredStatsEntry['body'], { type: 'dkg-dealing' }>
    if (b.generation !== first.generation || b.n !== key.n || b.k !== key.k)
      throw keyAnchorError(`${a.origin}'s dealing is of another generation or key size`)
    if (byDealer.has(b.dealer) || dealers.has(a.origin))
      throw keyAnchorError(`dealer ${b.dealer} (${a.origin}) is anchored twice`)
    dealers.add(a.origin)
    byDealer.set(b.dealer, {
      dealer: b.dealer,
      commitments: b.commitments.map(hexBytes),
      proof: hexBytes(b.proof),
    })
  }
  if ([...byDealer.keys()].sort((x, y) => x - y).join() !== first.qualified.join())
    throw keyAnchorError(
      `the anchored dealings are of dealers ${[...byDealer.keys()].join(', ') || 'none'}, the qualified ones are ${first.qualified.join(', ')}`,
    )
  let derived: StatsKey
  try {
    derived = combineDealings(
      { n: key.n, k: key.k, context },
      first.qualified.map((d) => byDealer.get(d)!),
    )
  } catch (err) {
    throw keyAnchorError(`a dealing does not verify: ${(err as Error).message}`)
  }
  if (derived.commitments.map((c) => bytesHex(c.toBytes())).join() !== want)
    throw keyAnchorError("the qualified dealings do not sum to the bundle's key")
  const rests = new Map(opened.map((a) => [a.checkpointId, a.cosigned]))
  return {
    generation: first.generation,
    attestedBy: [...attestedBy].sort(),
    qualified: first.qualified,
    checkpoints: [...rests.values()],
  }
}

/**
 * For verifyStatsBundle: the key anchors checked against the bundle's key, and every anchored
 * counters entry (`generations`, by origin) under the anchored key's generation; without
 * anchors, undefined, or `key-unanchored` when they are required.
 */
export function keyProvenanceOf(
  bundle: { key: StatsKey; keyAnchors?: Uint8Array[] },
  generations: ReadonlyMap<string, number>,
  required = false,
  checkpoints?: Map<string, AnchorCheckpoint>,
): KeyProvenance | undefined {
  if (!bundle.keyAnchors?.length) {
    if (!required) return undefined
    throw new EhrlogError(
      'INVALID_PROOF',
      "statistics bundle: carries no key anchors, so its key is not shown to be the network's",
      { details: { reason: 'key-unanchored' } },
    )
  }
  const provenance = verifyKeyAnchors(bundle.key, bundle.keyAnchors, checkpoints)
  for (const [origin, generation] of generations) {
    if (generation !== provenance.generation)
      throw keyAnchorError(
        `${origin}'s counters are under key generation ${generation}, the anchored key is generation ${provenance.generation}`,
        { origin },
      )
  }
  return provenance
}
