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

export interface FrameCodec<F> {
  encode(frame: F): Uint8Array
  /** Parses an untrusted frame; throws ARGUMENT_INVALID naming the first rule it breaks. */
  decode(data: Uint8Array): F
}

/**
 * A protocol's frame codec: u8 type | body. `types` gives each frame's type byte, the
 * common frames' included; `writeOwn` and `readOwn` write and read the protocol's own
 * bodies. Decoding reads the type byte, the body with that type's reader, then requires
 * that nothing is left (an unknown type, a short body or trailing bytes throw, naming `what`).
 */
export function frameCodec<F extends { type: string }>(
  what: string,
  types: Readonly<Record<F['type'], number>> & { head: number; done: number; error: number },
  writeOwn: (w: ByteWriter, frame: Exclude<F, CommonFrame>) => void,
  readOwn: Readonly<Record<number, (r: ByteReader) => F>>,
): FrameCodec<F> {
  const readers: Record<number, (r: ByteReader) => F | CommonFrame> = {
    ...readOwn,
    [types.head]: (r) => ({ type: 'head', head: readHead(r) }),
    [types.done]: () => ({ type: 'done' }),
    [types.error]: readErrorBody,
  }
  return {
    encode(frame) {
      const w = new ByteWriter().u8(types[frame.type as F['type']])
      const common = frame as unknown as CommonFrame
      if (common.type === 'head') writeHead(w, common.head)
      else if (common.type === 'error') writeErrorBody(w, common.code, common.message)
      else if (common.type !== 'done') writeOwn(w, frame as Exclude<F, CommonFrame>)
      return w.finish()
    },
    decode(data) {
      const r = new ByteReader(data, what)
      const type = r.u8('type')
      const read = readers[type]
      if (!read) throw r.invalid(`unknown frame type ${type}`)
      const frame = read(r) as F
      r.end()
      return frame
    },
  }
}

/** ERROR body := u8 len | code (UTF-8) | u16 len | message (UTF-8, at most 4096 bytes) */
function writeErrorBody(w: ByteWriter, code: string, message: string): void {
  const bytes = utf8.encode(message).subarray(0, MAX_ERROR_MESSAGE_BYTES)
  w.shortString(code).u16(bytes.byteLength).bytes(bytes)
}

function readErrorBody(r: ByteReader): { type: 'error'; code: string; message: string } {
  const code = r.shortString('code')
  const message = utf8Decoder.decode(r.bytes(r.u16('message length'), 'message'))
  return { type: 'error', code, message }
}
