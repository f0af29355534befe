import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import { NODE_FILES, PUBLIC_FILE_MODE } from './files.ts'

const HEADER = 'ehrlog-proven-bls-keys-v1'
const TAG_HEX = /^[0-9a-f]{64}$/

/** A BLS public key and its proof of possession, both hex as network.json holds them. */
export interface BlsKeyProof {
  blsPublicKey: string
  blsProofOfPossession: string
}

/**
 * The BLS proofs of possession this node has already verified, so that a restart does not
 * pair network.json's proofs again (~65 ms of pairings a member on the benchmark machine, most
 * of a node's start). Kept in the node folder as HMAC-SHA256 tags of (key, proof) under a key
 * derived from the master secret: without that secret, whoever can write the folder cannot make
 * an unverified proof pass, only make the node verify again. A missing, damaged or foreign file
 * is ignored the same way. Holds the current members' tags only, so it never grows.
 */
export class ProvenKeys {
  readonly #path: string
  readonly #key: Uint8Array
  #tags: Set<string>

  private constructor(path: string, key: Uint8Array, tags: Set<string>) {
    this.#path = path
    this.#key = key
    this.#tags = tags
  }

  /** Reads the node folder's file; anything unreadable counts as "nothing proven yet". */
  static async load(dir: string, key: Uint8Array): Promise<ProvenKeys> {
    const path = join(dir, NODE_FILES.provenKeys)
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch {
      // absent or unreadable: every proof is verified, and the file rewritten
    }
    const lines = text.split('\n').filter((line) => line !== '')
    const tags = lines[0] === HEADER ? lines.slice(1).filter((t) => TAG_HEX.test(t)) : []
    return new ProvenKeys(path, key, new Set(tags))
  }

  /** Whether this node verified exactly this proof for exactly this key before. */
  readonly has = (pair: BlsKeyProof): boolean => {
    const tag = Buffer.from(this.#tag(pair), 'hex')
    for (const known of this.#tags) {
      if (timingSafeEqual(Buffer.from(known, 'hex'), tag)) return true
    }
    return false
  }

  /** Records `pairs` (all verified) as the proven set; writes only when it changed. */
  async remember(pairs: readonly BlsKeyProof[]): Promise<void> {
    const tags = new Set(pairs.map((pair) => this.#tag(pair)))
    if (tags.size === this.#tags.size && [...tags].every((t) => this.#tags.has(t))) return
    await writeFileAtomic(this.#path, [HEADER, ...tags, ''].join('\n'), {
      mode: PUBLIC_FILE_MODE,
    })
    this.#tags = tags
  }

  #tag(pair: BlsKeyProof): string {
    return createHmac('sha256', this.#key)
      .update(`${pair.blsPublicKey}:${pair.blsProofOfPossession}`)
      .digest('hex')
  }
}
