import { EhrlogError } from '../core/errors.ts'

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** Big-endian binary writer for the network layouts in docs/protocol.md. */
export class ByteWriter {
  private readonly chunks: Uint8Array[] = []
  private length = 0

  get byteLength(): number {
    return this.length
  }

  u8(n: number): this {
    return this.push(Uint8Array.of(n))
  }

  u16(n: number): this {
    const b = Buffer.allocUnsafe(2)
    b.writeUInt16BE(n)
    return this.push(b)
  }

  u32(n: number): this {
    const b = Buffer.allocUnsafe(4)
    b.writeUInt32BE(n)
    return this.push(b)
  }

  u64(n: number): this {
    const b = Buffer.allocUnsafe(8)
    b.writeBigUInt64BE(BigInt(n))
    return this.push(b)
  }

  bytes(b: Uint8Array): this {
    return this.push(b)
  }

  /** u8 length then UTF-8 bytes; for names (at most 255 bytes). */
  shortString(s: string): this {
    const b = utf8.encode(s)
    if (b.byteLength > 255) throw new RangeError(`string of ${b.byteLength} bytes > 255`)
    return this.u8(b.byteLength).push(b)
  }

  finish(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks, this.length))
  }

  private push(b: Uint8Array): this {
    this.chunks.push(b)
    this.length += b.byteLength
    return this
  }
}

/**
 * Bounds-checked reader over untrusted bytes: every read that would pass the end throws
 * ARGUMENT_INVALID naming what was being read, so a malformed message never reads garbage.
 */
export class ByteReader {
  private offset = 0
  private readonly view: DataView

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining(): number {
    return this.buf.byteLength - this.offset
  }

  u8(field: string): number {
    this.need(1, field)
    return this.view.getUint8(this.offset++)
  }

  u16(field: string): number {
    this.need(2, field)
    const n = this.view.getUint16(this.offset)
    this.offset += 2
    return n
  }

  u32(field: string): number {
    this.need(4, field)
    const n = this.view.getUint32(this.offset)
    this.offset += 4
    return n
  }

  u64(field: string): number {
    this.need(8, field)
    const n = this.view.getBigUint64(this.offset)
    this.offset += 8
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw this.invalid(`${field} ${n} exceeds 2^53-1`)
    return Number(n)
  }

  /** A view into the message (no copy). */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field)
    const b = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }

  shortString(field: string): string {
    const n = this.u8(`${field} length`)
    try {
      return utf8Decoder.decode(this.bytes(n, field))
    } catch (cause) {
      if (cause instanceof EhrlogError) throw cause
      throw this.invalid(`${field} is not UTF-8`)
    }
  }

  /** Throws unless every byte was read: trailing bytes are a malformed message too. */
  end(): void {
    if (this.remaining !== 0) throw this.invalid(`${this.remaining} trailing bytes`)
  }

  invalid(reason: string): EhrlogError {
    return new EhrlogError('ARGUMENT_INVALID', `malformed ${this.what}: ${reason}`, {
      details: { what: this.what, offset: this.offset },
    })
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) {
      throw this.invalid(
        `${field} needs ${n} bytes at offset ${this.offset}, ${this.remaining} left`,
      )
    }
  }
}
