/** Lower-case hex without prefix; the only text form of hashes, keys and signatures. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

const HEX = /^(?:[0-9a-f]{2})*$/

/** Parses lower-case hex; returns undefined for anything else (odd length, other characters). */
export function fromHex(text: string, byteLength?: number): Uint8Array | undefined {
  if (!HEX.test(text)) return undefined
  if (byteLength !== undefined && text.length !== byteLength * 2) return undefined
  return new Uint8Array(Buffer.from(text, 'hex'))
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
