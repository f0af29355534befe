import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'
import { EhrlogError } from '../../core/errors.ts'

/**
 * AES-256-GCM for every stored value, with the LevelDB key as associated data: a value
 * moved to another key (a swapped or replayed entry) fails authentication like a changed
 * byte does. Layout: nonce[12] || ciphertext || tag[16].
 *
 * Nonces are random (96 bits; fine far below 2^32 values per key, NIST SP 800-38D 8.3),
 * drawn from a pool refilled 4,096 at a time, since one randomBytes call per value halves
 * throughput (docs/performance.md).
 */
const NONCE_SIZE = 12
const TAG_SIZE = 16
const POOL_NONCES = 4096

export const VALUE_OVERHEAD = NONCE_SIZE + TAG_SIZE

export class ValueCipher {
  readonly #key: Buffer
  #pool = Buffer.alloc(NONCE_SIZE * POOL_NONCES)
  #used = POOL_NONCES

  constructor(key: Uint8Array) {
    if (key.byteLength !== 32) {
      throw new EhrlogError('KEY_FILE_INVALID', `value key has ${key.byteLength} bytes, want 32`)
    }
    this.#key = Buffer.from(key)
  }

  #nextNonce(): Buffer {
    if (this.#used === POOL_NONCES) {
      // A fresh buffer each refill: nonces handed out earlier must never change under a caller.
      this.#pool = randomFillSync(Buffer.allocUnsafe(NONCE_SIZE * POOL_NONCES))
      this.#used = 0
    }
    const start = this.#used++ * NONCE_SIZE
    return this.#pool.subarray(start, start + NONCE_SIZE)
  }

  seal(key: Uint8Array, plaintext: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(plaintext.byteLength + VALUE_OVERHEAD)
    this.sealInto(key, plaintext, out, 0)
    return out
  }

  /**
   * seal(), written straight into out[at..] (plaintext length + VALUE_OVERHEAD bytes) with
   * no sealed copy in between: the seal worker packs a whole job's values this way.
   * Returns where the sealed value ends.
   */
  sealInto(key: Uint8Array, plaintext: Uint8Array, out: Uint8Array, at: number): number {
    const nonce = this.#nextNonce()
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce)
    cipher.setAAD(key)
    const body = cipher.update(plaintext)
    cipher.final()
    out.set(nonce, at)
    out.set(body, at + NONCE_SIZE)
    const end = at + NONCE_SIZE + body.byteLength
    out.set(cipher.getAuthTag(), end)
    return end + TAG_SIZE
  }

  /** Decrypts, or returns undefined when the value was changed, truncated or moved. */
  open(key: Uint8Array, sealed: Uint8Array): Buffer | undefined {
    if (sealed.byteLength < VALUE_OVERHEAD) return undefined
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    const decipher = createDecipheriv('aes-256-gcm', this.#key, buf.subarray(0, NONCE_SIZE))
    decipher.setAAD(key)
    decipher.setAuthTag(buf.subarray(buf.length - TAG_SIZE))
    const body = decipher.update(buf.subarray(NONCE_SIZE, buf.length - TAG_SIZE))
    try {
      decipher.final()
    } catch {
      return undefined
    }
    return body
  }
}
