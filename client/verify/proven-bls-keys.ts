import { createHmac, randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../node/fs/atomic-write.ts'

/** The tags, in the user's config folder. */
export const PROVEN_KEYS_FILE = 'proven-bls-keys'
/** The local secret the tags are made with (mode 0600, never leaves this folder). */
export const PROVEN_KEYS_SECRET_FILE = 'proven-bls-keys.secret'

const HEADER = 'ehrlog-client-proven-bls-keys-v1'
const HEX64 = /^[0-9a-f]{64}$/
/** Enough for many networks' members; the oldest tags go first past it. */
const MAX_TAGS = 4096

/** A BLS public key and its proof of possession, both hex as network.json holds them. */
export interface BlsKeyProof {
  blsPublicKey: string
  blsProofOfPossession: string
}

/**
 * The BLS proofs of possession this user's CLI has already verified, so that reading
 * network.json again (every `ehrlog stats verify --network`, every query) does not hash to G2
 * and pair its members' proofs again (~25 ms a member on the benchmark machine). A verified
 * proof is a fact about public bytes, so remembering it is safe as long as only this CLI can
 * vouch for it: each entry is HMAC-SHA256 of (key, proof) under a random secret kept in the
 * config folder (mode 0600). A tag written by anyone without that secret, copied from another
 * machine, or damaged matches nothing, and the proof is verified again; a missing or unreadable
 * file or secret means "nothing proven". Failing to write either never fails a command.
 */
export class ClientProvenKeys {
  readonly #dir: string
  readonly #secret: Uint8Array
  readonly #tags: string[]
  readonly #known: Set<string>

  private constructor(dir: string, secret: Uint8Array, tags: string[]) {
    this.#dir = dir
    this.#secret = secret
    this.#tags = tags
    this.#known = new Set(tags)
  }

  /** Reads CONFIG/proven-bls-keys and its secret, making the secret if there is none. */
  static async load(dir: string): Promise<ClientProvenKeys | undefined> {
    const secret = await secretOf(dir)
    if (!secret) return undefined
    let text = ''
    try {
      text = await readFile(join(dir, PROVEN_KEYS_FILE), 'utf8')
    } catch {
      // absent or unreadable: every proof is verified
    }
    const lines = text.split('\n').filter((line) => line !== '')
    const tags = lines[0] === HEADER ? lines.slice(1).filter((t) => HEX64.test(t)) : []
    return new ClientProvenKeys(dir, secret, [...new Set(tags)])
  }

  /**
   * Whether this CLI verified exactly this proof for exactly this key before. A set lookup, not
   * a constant-time loop over up to MAX_TAGS tags: the tags are this user's local file, and
   * matching one needs the HMAC under the secret, which timing does not give away.
   */
  readonly has = (pair: BlsKeyProof): boolean => this.#known.has(this.#tag(pair))

  /** Adds `pairs` (all verified); writes only when one was new. */
  async remember(pairs: readonly BlsKeyProof[]): Promise<void> {
    const fresh = [...new Set(pairs.map((pair) => this.#tag(pair)))].filter(
      (t) => !this.#known.has(t),
    )
    if (fresh.length === 0) return
    this.#tags.push(...fresh)
    for (const dropped of this.#tags.splice(0, Math.max(0, this.#tags.length - MAX_TAGS))) {
      this.#known.delete(dropped)
    }
    for (const tag of fresh) this.#known.add(tag)
    try {
      await writeFileAtomic(
        join(this.#dir, PROVEN_KEYS_FILE),
        [HEADER, ...this.#tags, ''].join('\n'),
        {
          mode: 0o600,
        },
      )
    } catch {
      // a read-only config folder: the proofs are verified again next time
    }
  }

  #tag(pair: BlsKeyProof): string {
    return createHmac('sha256', this.#secret)
      .update(`${pair.blsPublicKey}:${pair.blsProofOfPossession}`)
      .digest('hex')
  }
}

/** The folder's secret (32 bytes, hex in a 0600 file), made once; undefined if impossible. */
async function secretOf(dir: string): Promise<Uint8Array | undefined> {
  const path = join(dir, PROVEN_KEYS_SECRET_FILE)
  const read = async () => {
    const text = (await readFile(path, 'utf8')).trim()
    return HEX64.test(text) ? new Uint8Array(Buffer.from(text, 'hex')) : undefined
  }
  try {
    return await read()
  } catch {
    // none yet
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    // noClobber: a CLI running at the same time may have made it first; then keep that one.
    await writeFileAtomic(path, `${randomBytes(32).toString('hex')}\n`, {
      mode: 0o600,
      noClobber: true,
    }).catch(() => undefined)
    return await read()
  } catch {
    return undefined
  }
}
