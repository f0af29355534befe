import { ORIGIN_PATTERN } from '../core/layout.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import { readEntries, readHead, writeEntries, writeHead } from './batch-codec.ts'
import { ByteReader, ByteWriter } from './bytes.ts'
import { LIMITS } from './protocol.ts'

/**
 * Frames of /ehrlog/sync/1.0.0 (docs/protocol.md, "Sync"). Each frame travels as one
 * unsigned-varint length-prefixed message; the first byte is its type.
 */
export type SyncFrame =
  | { type: 'state'; networkId: Uint8Array; sizes: Map<string, number> }
  | { type: 'pull'; origin: string; fromSeq: number; maxEntries: number }
  | { type: 'entries'; entries: Uint8Array[] }
  | { type: 'head'; head: SignedTreeHead }
  | { type: 'done' }
  | { type: 'error'; code: string; message: string }

const TYPE = { state: 1, pull: 2, entries: 3, head: 4, done: 5, error: 6 } as const
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

export function encodeFrame(frame: SyncFrame): Uint8Array {
  const w = new ByteWriter().u8(TYPE[frame.type])
  switch (frame.type) {
    case 'state':
      w.bytes(frame.networkId).u16(frame.sizes.size)
      for (const [origin, size] of frame.sizes) w.shortString(origin).u64(size)
      break
    case 'pull':
      w.shortString(frame.origin).u64(frame.fromSeq).u32(frame.maxEntries)
      break
    case 'entries':
      writeEntries(w, frame.entries)
      break
    case 'head':
      writeHead(w, frame.head)
      break
    case 'done':
      break
    case 'error': {
      const message = utf8.encode(frame.message).subarray(0, 4096)
      w.shortString(frame.code).u16(message.byteLength).bytes(message)
      break
    }
  }
  return w.finish()
}

function readOrigin(r: ByteReader): string {
  const origin = r.shortString('origin')
  if (!ORIGIN_PATTERN.test(origin))
    throw r.invalid(`origin ${JSON.stringify(origin)} is not a node name`)
  return origin
}

/** Parses one untrusted frame; throws ARGUMENT_INVALID when malformed. */
export function decodeFrame(data: Uint8Array): SyncFrame {
  const r = new ByteReader(data, 'sync frame')
  const type = r.u8('type')
  let frame: SyncFrame
  switch (type) {
    case TYPE.state: {
      const networkId = r.bytes(32, 'networkId')
      const count = r.u16('origin count')
      if (count > LIMITS.maxOrigins) throw r.invalid(`${count} origins > ${LIMITS.maxOrigins}`)
      const sizes = new Map<string, number>()
      for (let i = 0; i < count; i++) sizes.set(readOrigin(r), r.u64('size'))
      frame = { type: 'state', networkId, sizes }
      break
    }
    case TYPE.pull: {
      const origin = readOrigin(r)
      const fromSeq = r.u64('fromSeq')
      const maxEntries = r.u32('maxEntries')
      if (fromSeq < 1) throw r.invalid('fromSeq is 0')
      frame = { type: 'pull', origin, fromSeq, maxEntries }
      break
    }
    case TYPE.entries:
      frame = { type: 'entries', entries: readEntries(r, LIMITS.maxBatchEntries) }
      break
    case TYPE.head:
      frame = { type: 'head', head: readHead(r) }
      break
    case TYPE.done:
      frame = { type: 'done' }
      break
    case TYPE.error: {
      const code = r.shortString('code')
      const message = utf8Decoder.decode(r.bytes(r.u16('message length'), 'message'))
      frame = { type: 'error', code, message }
      break
    }
    default:
      throw r.invalid(`unknown frame type ${type}`)
  }
  r.end()
  return frame
}

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
