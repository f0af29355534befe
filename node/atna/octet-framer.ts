import { EhrlogError } from '../core/errors.ts'

/** A frame's MSG-LEN has at most this many digits (a 16 MiB frame needs 8). */
const MAX_LENGTH_DIGITS = 9
const SPACE = 0x20

/**
 * RFC 6587 §3.4.1 octet-counting framing, which RFC 5425 §4.3 requires over TLS:
 * `SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG`, MSG-LEN a non-zero decimal without leading zeros.
 * Non-transparent framing (§3.4.2, messages ended by LF) is refused: a message holding an LF
 * (every pretty-printed XML audit message) would be cut in two, and RFC 5425 does not allow
 * it. Any framing error ends the stream: after it, no later byte can be trusted to start a
 * frame. A frame longer than `maxFrameBytes` is refused before its bytes are buffered.
 */
export class OctetFramer {
  readonly #maxFrameBytes: number
  #buffered: Buffer[] = []
  #bufferedBytes = 0
  /** Length of the frame being read; undefined while reading MSG-LEN. */
  #want: number | undefined
  #failed = false

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Bytes held for an unfinished frame (the per-connection memory bound checks it). */
  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  /** Whether the stream ended between frames (a truncated frame is an error at close). */
  get idle(): boolean {
    return this.#bufferedBytes === 0 && this.#want === undefined
  }

  /**
   * Feeds bytes from the stream; returns the frames they completed. Throws MESSAGE_INVALID.
   * A frame that lies whole in `chunk` is a view of it, not a copy (the parse threads copy
   * each batch once anyway); only a frame split across chunks, and the unfinished tail, are
   * copied, so a chunk is not kept alive by the bytes held for the next one.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.#failed) throw framingError('the stream already failed framing')
    const frames: Buffer[] = []
    let data = chunk
    if (this.#bufferedBytes > 0) {
      const want = this.#want
      if (want !== undefined && this.#bufferedBytes + chunk.length < want) {
        // Still inside one long frame: hold this chunk too, without re-copying what is held.
        this.#buffered.push(Buffer.from(chunk))
        this.#bufferedBytes += chunk.length
        return frames
      }
      if (want !== undefined) {
        const need = want - this.#bufferedBytes
        frames.push(Buffer.concat([...this.#buffered, chunk.subarray(0, need)]))
        data = chunk.subarray(need)
        this.#want = undefined
      } else data = Buffer.concat([...this.#buffered, chunk]) // a split MSG-LEN: a few bytes
      this.#buffered = []
      this.#bufferedBytes = 0
    }
    try {
      for (;;) {
        if (this.#want === undefined) {
          if (data.length === 0) break
          const space = data.indexOf(SPACE)
          const digits = space === -1 ? data.length : space
          if (digits > MAX_LENGTH_DIGITS || !isDecimal(data, digits)) {
            throw framingError(
              `want MSG-LEN SP (RFC 6587 §3.4.1 octet counting), got ${JSON.stringify(data.subarray(0, 16).toString('latin1'))}`,
            )
          }
          if (space === -1) break
          const length = Number(data.subarray(0, space).toString('latin1'))
          if (length > this.#maxFrameBytes) {
            throw new EhrlogError(
              'PAYLOAD_TOO_LARGE',
              `syslog frame of ${length} bytes, want at most ${this.#maxFrameBytes}`,
              { details: { field: 'MSG-LEN', length } },
            )
          }
          this.#want = length
          data = data.subarray(space + 1)
        }
        if (data.length < this.#want) break
        frames.push(data.subarray(0, this.#want))
        data = data.subarray(this.#want)
        this.#want = undefined
      }
    } catch (err) {
      this.#failed = true
      throw err
    }
    if (data.length > 0) {
      this.#buffered = [Buffer.from(data)]
      this.#bufferedBytes = data.length
    }
    return frames
  }
}

/** `digits` bytes of a non-zero decimal without a leading zero (an empty prefix is fine). */
function isDecimal(data: Buffer, digits: number): boolean {
  if (digits > 0 && data[0] === 0x30) return false
  for (let i = 0; i < digits; i++) {
    const c = data[i]!
    if (c < 0x30 || c > 0x39) return false
  }
  // A space right at the start is an empty MSG-LEN.
  return !(digits === 0 && data.length > 0)
}

function framingError(message: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', message, { details: { field: 'MSG-LEN' } })
}
