import { readEntries, readOrigin, writeEntries } from './batch-codec.ts'
import type { ByteReader, ByteWriter } from './bytes.ts'
import { type CommonFrame, frameCodec } from './frame-layout.ts'
import { LIMITS } from './protocol.ts'

/**
 * Frames of /ehrlog/sync/1.0.0 (docs/protocol.md, "Sync"). Each frame travels as one
 * unsigned-varint length-prefixed message; the first byte is its type.
 */
export type SyncFrame =
  | { type: 'state'; networkId: Uint8Array; sizes: Map<string, number> }
  | { type: 'pull'; origin: string; fromSeq: number; maxEntries: number }
  | { type: 'entries'; entries: Uint8Array[] }
  | CommonFrame

const TYPE = { state: 1, pull: 2, entries: 3, head: 4, done: 5, error: 6 } as const

function writeOwn(w: ByteWriter, frame: Exclude<SyncFrame, CommonFrame>): void {
  switch (frame.type) {
    case 'state':
      w.bytes(frame.networkId).u16(frame.sizes.size)
      for (const [origin, size] of frame.sizes) w.shortString(origin).u64(size)
      return
    case 'pull':
      w.shortString(frame.origin).u64(frame.fromSeq).u32(frame.maxEntries)
      return
    case 'entries':
      writeEntries(w, frame.entries)
      return
  }
}

const READERS: Record<number, (r: ByteReader) => SyncFrame> = {
  [TYPE.state]: (r) => {
    const networkId = r.bytes(32, 'networkId')
    const count = r.u16('origin count')
    if (count > LIMITS.maxOrigins) throw r.invalid(`${count} origins > ${LIMITS.maxOrigins}`)
    const sizes = new Map<string, number>()
    for (let i = 0; i < count; i++) sizes.set(readOrigin(r), r.u64('size'))
    return { type: 'state', networkId, sizes }
  },
  [TYPE.pull]: (r) => {
    const origin = readOrigin(r)
    const fromSeq = r.u64('fromSeq')
    const maxEntries = r.u32('maxEntries')
    if (fromSeq < 1) throw r.invalid('fromSeq is 0')
    return { type: 'pull', origin, fromSeq, maxEntries }
  },
  [TYPE.entries]: (r) => ({ type: 'entries', entries: readEntries(r, LIMITS.maxBatchEntries) }),
}

export const syncFrames = frameCodec<SyncFrame>('sync frame', TYPE, writeOwn, READERS)

export const encodeFrame = syncFrames.encode
/** Parses one untrusted frame; throws ARGUMENT_INVALID naming the first rule it breaks. */
export const decodeFrame = syncFrames.decode

/**
 * Splits a batch's entries into ENTRIES frames of about `targetBytes` each, so a large
 * batch never needs one oversized frame and the writer can respect backpressure between them.
 */
export function* entriesFrames(
  entries: readonly Uint8Array[],
  targetBytes: number,
): Generator<SyncFrame> {
  let start = 0
  let bytes = 0
  for (let i = 0; i < entries.length; i++) {
    const n = (entries[i] as Uint8Array).byteLength + 4
    if (i > start && bytes + n > targetBytes) {
      yield { type: 'entries', entries: entries.slice(start, i) }
      start = i
      bytes = 0
    }
    bytes += n
  }
  if (entries.length > start) yield { type: 'entries', entries: entries.slice(start) }
}
