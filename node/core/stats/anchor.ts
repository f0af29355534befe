import { concatBytes } from '@noble/curves/utils.js'
import { canonicalJson } from '../canonical-json.ts'
import {
  type CosignedCheckpoint,
  checkpointId,
  cosignedFromJson,
  cosignedToJson,
} from '../checkpoint.ts'
import { decodeEntry } from '../entry.ts'
import { EhrlogError } from '../errors.ts'
import { verifyInclusion } from '../merkle/verify.ts'
import type { Ciphertext } from './elgamal.ts'
import { countersHex, parseStatsEntryBody } from './stats-entry.ts'

/*
 * A hospital's anchor in a statistics bundle (docs/format.md, "Statistics bundle anchors"):
 * proof that its ciphertexts are the `counters` entry for the bundle's period in its own feed,
 * under a cosigned checkpoint.
 *
 *   u32 seq || u32 len || entry bytes (RFC 8785, as signed into the feed)
 *   || u8 count || count × 32-byte inclusion proof hashes (RFC 9162, leaf seq-1 in the
 *      origin's feed at the checkpoint's tree size for it)
 *   || u32 len || the cosigned checkpoint as RFC 8785 JSON (cosignedToJson)
 *
 * The verifier re-hashes the entry, checks its origin, kind, period and ciphertexts against
 * the hospital block, folds the proof to the checkpoint's root for the origin, and hands the
 * cosigned checkpoint to the caller, who checks its cosignatures against a pinned network.json
 * (core/trust verifyCheckpoint); without one, only the bundle's internal consistency is shown.
 */

export interface StatsAnchor {
  seq: number
  entryBytes: Uint8Array
  proof: Uint8Array[]
  cosigned: CosignedCheckpoint
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

export function encodeStatsAnchor(a: StatsAnchor): Uint8Array {
  const checkpoint = utf8.encode(canonicalJson(cosignedToJson(a.cosigned)))
  return concatBytes(
    u32(a.seq),
    u32(a.entryBytes.length),
    a.entryBytes,
    Uint8Array.of(a.proof.length),
    ...a.proof,
    u32(checkpoint.length),
    checkpoint,
  )
}

export function anchorError(origin: string, message: string): EhrlogError {
  return new EhrlogError('INVALID_PROOF', `statistics bundle: ${origin}'s anchor ${message}`, {
    details: { reason: 'anchor-invalid', origin },
  })
}

export function decodeStatsAnchor(
  origin: string,
  bytes: Uint8Array,
  checkpoints?: Map<string, AnchorCheckpoint>,
): StatsAnchor {
  return decodeAnchor(origin, bytes, checkpoints).anchor
}

/** A cosigned checkpoint an anchor rests on, and its id (checkpointId). */
export interface AnchorCheckpoint {
  cosigned: CosignedCheckpoint
  id: string
}

function decodeAnchor(
  origin: string,
  bytes: Uint8Array,
  checkpoints = new Map<string, AnchorCheckpoint>(),
): { anchor: StatsAnchor; checkpoint: AnchorCheckpoint } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw anchorError(origin, `ends inside ${what}`)
  }
  need(8, 'its header')
  const seq = view.getUint32(0)
  const entryLength = view.getUint32(4)
  at = 8
  need(entryLength, 'the entry')
  const entryBytes = bytes.subarray(at, at + entryLength)
  at += entryLength
  need(1, 'the proof count')
  const count = bytes[at]!
  at += 1
  need(32 * count, 'the proof')
  const proof = Array.from({ length: count }, (_, i) =>
    bytes.subarray(at + 32 * i, at + 32 * i + 32),
  )
  at += 32 * count
  need(4, 'the checkpoint length')
  const length = view.getUint32(at)
  at += 4
  need(length, 'the checkpoint')
  let text: string
  let checkpoint: AnchorCheckpoint | undefined
  try {
    text = fromUtf8.decode(bytes.subarray(at, at + length))
    checkpoint = checkpoints.get(text)
    if (!checkpoint) {
      const cosigned = cosignedFromJson(JSON.parse(text))
      checkpoint = { cosigned, id: checkpointId(cosigned.checkpoint) }
      checkpoints.set(text, checkpoint)
    }
  } catch (err) {
    throw anchorError(origin, `has a checkpoint that does not parse: ${(err as Error).message}`)
  }
  at += length
  if (at !== bytes.length) throw anchorError(origin, `has ${bytes.length - at} bytes after its end`)
  return { anchor: { seq, entryBytes, proof, cosigned: checkpoint.cosigned }, checkpoint }
}

/** An anchored `stats` entry, its inclusion proof checked against the checkpoint it names. */
export interface AnchoredStatsEntry {
  origin: string
  seq: number
  body: ReturnType<typeof parseStatsEntryBody>
  cosigned: CosignedCheckpoint
  /** checkpointId of `cosigned.checkpoint`. */
  checkpointId: string
}

/**
 * Decodes an anchor, re-hashes its entry, checks that it is a valid `stats` entry (of `origin`
 * when given) and folds its inclusion proof to the checkpoint's root for its origin. The
 * checkpoint's cosignatures are for the caller to check. Errors name `label`.
 *
 * For a verifier that checks many anchors: a checkpoint text met before (`opts.checkpoints`)
 * is not parsed or hashed again, and a counters entry whose ciphertexts are `knownCiphertexts`
 * (lower-case hex of ciphertexts already decoded as canonical elements) is not decoded again.
 */
export function openStatsAnchor(
  label: string,
  anchorBytes: Uint8Array,
  origin?: string,
  opts: { checkpoints?: Map<string, AnchorCheckpoint>; knownCiphertexts?: string } = {},
): AnchoredStatsEntry {
  const { anchor, checkpoint } = decodeAnchor(label, anchorBytes, opts.checkpoints)
  let entry: ReturnType<typeof decodeEntry>
  try {
    entry = decodeEntry(anchor.entryBytes)
  } catch (err) {
    throw anchorError(label, `holds an entry that does not decode: ${(err as Error).message}`)
  }
  const e = entry.entry
  if ((origin !== undefined && e.origin !== origin) || e.seq !== anchor.seq || e.kind !== 'stats') {
    throw anchorError(
      label,
      `holds ${e.origin}:${e.seq} (${e.kind}), not a stats entry of ${origin ?? e.origin} at ${anchor.seq}`,
    )
  }
  let body: ReturnType<typeof parseStatsEntryBody>
  try {
    body = parseStatsEntryBody(e.body, opts.knownCiphertexts)
  } catch (err) {
    throw anchorError(label, `holds an entry whose body is invalid: ${(err as Error).message}`)
  }
  const cut = anchor.cosigned.checkpoint.feeds.find((f) => f.origin === e.origin)
  if (!cut || cut.treeSize < anchor.seq) {
    throw anchorError(
      label,
      `rests on checkpoint ${checkpoint.id.slice(0, 16)}…, which does not cover ${e.origin}:${anchor.seq}`,
    )
  }
  try {
    verifyInclusion(entry.hash, anchor.seq - 1, cut.treeSize, anchor.proof, cut.root)
  } catch (err) {
    throw anchorError(label, `has an inclusion proof that fails: ${(err as Error).message}`)
  }
  return {
    origin: e.origin,
    seq: anchor.seq,
    body,
    cosigned: checkpoint.cosigned,
    checkpointId: checkpoint.id,
  }
}

/**
 * Checks one hospital's anchor against its block of the bundle; returns the cosigned
 * checkpoint it rests on (its cosignatures are for the caller to check).
 */
export function verifyStatsAnchor(
  origin: string,
  period: string,
  ciphertexts: readonly Ciphertext[],
  anchorBytes: Uint8Array,
): CosignedCheckpoint {
  return checkStatsAnchor(origin, period, countersHex(ciphertexts), anchorBytes).cosigned
}

/** verifyStatsAnchor, also giving the anchored entry (its generation names the key). */
export function verifyCountersAnchor(
  origin: string,
  period: string,
  ciphertexts: readonly Ciphertext[],
  anchorBytes: Uint8Array,
): AnchoredStatsEntry {
  return checkStatsAnchor(origin, period, countersHex(ciphertexts), anchorBytes)
}

/**
 * verifyCountersAnchor for a verifier that holds the block's ciphertexts as read
 * (`ciphertextsHex`, lower-case hex of the hospital's C1 || C2 per cell, every one a canonical
 * element) and checks many anchors: a checkpoint text met before (`checkpoints`) is not parsed
 * or hashed again, and the entry's ciphertexts are compared as text, not decoded (equal to
 * points already decoded).
 */
export function checkStatsAnchor(
  origin: string,
  period: string,
  ciphertextsHex: string,
  anchorBytes: Uint8Array,
  checkpoints?: Map<string, AnchorCheckpoint>,
): AnchoredStatsEntry {
  const anchored = openStatsAnchor(origin, anchorBytes, origin, {
    ...(checkpoints ? { checkpoints } : {}),
    knownCiphertexts: ciphertextsHex,
  })
  const body = anchored.body
  if (body.type !== 'counters' || body.period !== period) {
    throw anchorError(
      origin,
      `holds a ${body.type} entry${body.type === 'counters' ? ` for ${body.period}` : ''}, not the counters for ${period}`,
    )
  }
  if (body.ciphertexts !== ciphertextsHex) {
    throw anchorError(origin, 'holds other ciphertexts than the bundle gives for it')
  }
  return anchored
}
