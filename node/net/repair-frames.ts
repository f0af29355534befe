import { readOrigin } from './batch-codec.ts'
import type { ByteReader, ByteWriter } from './bytes.ts'
import { type CommonFrame, frameCodec } from './frame-layout.ts'
import { LIMITS } from './protocol.ts'

/**
 * Frames of /ehrlog/repair/1.0.0 (docs/protocol.md, "Repair"). One request per stream; each
 * frame is one unsigned-varint length-prefixed message whose first byte is its type.
 *
 *   REQUEST (1) := networkId[32] | u8 len | origin | u64 treeSize
 *                  | u16 rangeCount | (u64 firstSeq | u64 lastSeq){rangeCount}
 *   HEAD    (2) := head (as in gossip): the responder's signed head at exactly treeSize
 *   ENTRY   (3) := u64 seq | u32 length | entry bytes | u8 proofLength | hash[32]{proofLength}
 *   DONE    (4) := (empty)
 *   ERROR   (5) := u8 len | code | u16 len | message
 */

/** Which entries of `origin` to prove, and against which tree size. */
export interface RepairRequest {
  origin: string
  treeSize: number
  /** Inclusive seq ranges, ascending and disjoint; none asks for the head alone. */
  ranges: Array<[firstSeq: number, lastSeq: number]>
}

export interface ProvenEntryBytes {
  /** Canonical entry bytes, untrusted until the receiver verified the proof. */
  bytes: Uint8Array
  /** RFC 9162 inclusion proof of leaf seq − 1 in the tree of the request's size. */
  proof: Uint8Array[]
}

export type RepairFrame =
  | { type: 'request'; networkId: Uint8Array; request: RepairRequest }
  | ({ type: 'entry'; seq: number } & ProvenEntryBytes)
  | CommonFrame

const TYPE = { request: 1, head: 2, entry: 3, done: 4, error: 5 } as const
const HASH_SIZE = 32

function writeOwn(w: ByteWriter, frame: Exclude<RepairFrame, CommonFrame>): void {
  switch (frame.type) {
    case 'request': {
      const { origin, treeSize, ranges } = frame.request
      w.bytes(frame.networkId).shortString(origin).u64(treeSize).u16(ranges.length)
      for (const [first, last] of ranges) w.u64(first).u64(last)
      return
    }
    case 'entry':
      w.u64(frame.seq).u32(frame.bytes.byteLength).bytes(frame.bytes).u8(frame.proof.length)
      for (const hash of frame.proof) w.bytes(hash)
      return
  }
}

const READERS: Record<number, (r: ByteReader) => RepairFrame> = {
  [TYPE.request]: (r) => ({
    type: 'request',
    networkId: r.bytes(32, 'networkId'),
    request: readRequest(r),
  }),
  [TYPE.entry]: (r) => {
    const seq = r.u64('seq')
    if (seq < 1) throw r.invalid('seq is 0')
    const length = r.u32('entry length')
    if (length === 0 || length > LIMITS.maxEntryBytes)
      throw r.invalid(`entry has ${length} bytes, want 1..${LIMITS.maxEntryBytes}`)
    const bytes = r.bytes(length, 'entry')
    const count = r.u8('proof length')
    if (count > LIMITS.maxProofHashes)
      throw r.invalid(`proof has ${count} hashes, at most ${LIMITS.maxProofHashes}`)
    const proof: Uint8Array[] = []
    for (let i = 0; i < count; i++) proof.push(r.bytes(HASH_SIZE, `proof hash ${i}`))
    return { type: 'entry', seq, bytes, proof }
  },
}

export const repairFrames = frameCodec<RepairFrame>('repair frame', TYPE, writeOwn, READERS)

export const encodeRepairFrame = repairFrames.encode
/** Parses one untrusted frame; throws ARGUMENT_INVALID naming the first rule it breaks. */
export const decodeRepairFrame = repairFrames.decode

function readRequest(r: ByteReader): RepairRequest {
  const origin = readOrigin(r)
  const treeSize = r.u64('treeSize')
  if (treeSize < 1) throw r.invalid('treeSize is 0')
  const count = r.u16('range count')
  if (count > LIMITS.maxRepairRanges)
    throw r.invalid(`${count} ranges, at most ${LIMITS.maxRepairRanges}`)
  const ranges: RepairRequest['ranges'] = []
  let seqs = 0
  let previous = 0
  for (let i = 0; i < count; i++) {
    const first = r.u64(`range ${i} first seq`)
    const last = r.u64(`range ${i} last seq`)
    // Ascending and disjoint, inside the tree: a request names each entry at most once.
    if (first <= previous || last < first || last > treeSize) {
      throw r.invalid(
        `range ${i} is [${first}, ${last}]; want ascending disjoint ranges within 1..${treeSize}`,
      )
    }
    seqs += last - first + 1
    if (seqs > LIMITS.maxRepairSeqs)
      throw r.invalid(`asks for more than ${LIMITS.maxRepairSeqs} entries`)
    ranges.push([first, last])
    previous = last
  }
  return { origin, treeSize, ranges }
}

/** The seqs a request names, ascending. */
export function seqsOf(ranges: RepairRequest['ranges']): number[] {
  const out: number[] = []
  for (const [first, last] of ranges) for (let s = first; s <= last; s++) out.push(s)
  return out
}

/** Ascending distinct seqs → the fewest inclusive ranges. */
export function rangesOf(seqs: Iterable<number>): RepairRequest['ranges'] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b)
  const ranges: RepairRequest['ranges'] = []
  for (const seq of sorted) {
    const last = ranges[ranges.length - 1]
    if (last && last[1] === seq - 1) last[1] = seq
    else ranges.push([seq, seq])
  }
  return ranges
}
