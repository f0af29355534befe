import type { SignedTreeHead } from '../core/tree-head.ts'
import { readHead, writeHead } from './batch-codec.ts'
import { ByteReader, ByteWriter } from './bytes.ts'

/**
 * The frame skeleton shared by the request/response protocols (docs/protocol.md, "Sync" and
 * "Repair"): each frame is one length-prefixed message whose first byte is its type, and
 * both have HEAD, DONE and ERROR frames of the same layouts (with their own type bytes).
 */

/** Frames both protocols have. */
export type CommonFrame =
  | { type: 'head'; head: SignedTreeHead }
  | { type: 'done' }
  | { type: 'error'; code: string; message: string }

/** Longest error message sent, in UTF-8 bytes (longer ones are cut). */
const MAX_ERROR_MESSAGE_BYTES = 4096
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** u8 type | body. */
export function encodeTypedFrame(type: number, writeBody: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter().u8(type)
  writeBody(w)
  return w.finish()
}

/**
 * Parses an untrusted frame: reads the type byte, the body with that type's reader, then
 * requires that nothing is left. Throws ARGUMENT_INVALID (an unknown type, a short body,
 * trailing bytes) naming `what`.
 */
export function decodeTypedFrame<F>(
  data: Uint8Array,
  what: string,
  readers: Readonly<Record<number, (r: ByteReader) => F>>,
): F {
  const r = new ByteReader(data, what)
  const type = r.u8('type')
  const read = readers[type]
  if (!read) throw r.invalid(`unknown frame type ${type}`)
  const frame = read(r)
  r.end()
  return frame
}

/** HEAD := head (as in gossip); DONE := (empty); ERROR := see writeErrorBody. */
export function writeCommonBody(w: ByteWriter, frame: CommonFrame): void {
  if (frame.type === 'head') writeHead(w, frame.head)
  else if (frame.type === 'error') writeErrorBody(w, frame.code, frame.message)
}

/** Readers of the common frames, by each protocol's type bytes. */
export function commonReaders(types: {
  head: number
  done: number
  error: number
}): Record<number, (r: ByteReader) => CommonFrame> {
  return {
    [types.head]: (r) => ({ type: 'head', head: readHead(r) }),
    [types.done]: () => ({ type: 'done' }),
    [types.error]: readErrorBody,
  }
}

/** ERROR body := u8 len | code (UTF-8) | u16 len | message (UTF-8, at most 4096 bytes) */
export function writeErrorBody(w: ByteWriter, code: string, message: string): void {
  const bytes = utf8.encode(message).subarray(0, MAX_ERROR_MESSAGE_BYTES)
  w.shortString(code).u16(bytes.byteLength).bytes(bytes)
}

export function readErrorBody(r: ByteReader): { type: 'error'; code: string; message: string } {
  const code = r.shortString('code')
  const message = utf8Decoder.decode(r.bytes(r.u16('message length'), 'message'))
  return { type: 'error', code, message }
}
