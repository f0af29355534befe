import { randomBytes } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blsProofOfPossession, blsPublicKey, generateBlsSecretKey } from '../core/bls.ts'
import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import { ed25519PrivateKey, ed25519RawPublicKey } from '../core/tree-head.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import { NODE_FILES } from './files.ts'
import { NEXT_IDENTITY_FILE, NEXT_KEYS_FILE } from './install-keys.ts'
import {
  keysFileKey,
  openKeysFileWith,
  type PrivateKeys,
  parseKeysFile,
  sealKeysFile,
} from './keys-file.ts'
import { unlockKeys } from './open.ts'
import { readPublicIdentity } from './public-identity.ts'

/**
 * keys-next.enc: the keys a node will use once a membership change rotating its own key takes
 * effect (docs/architecture.md, "A node's own rotation"). Same format and master secret as
 * keys.enc, holding the whole key set (Ed25519, BLS, libp2p) with the rotated keys replaced; written by `ehrlog keys
 * rotate` (also while the node runs: it takes no lock and touches nothing the node writes), read
 * at start and again by the running node when a change rotating its keys is applied
 * (nextKeysReader). Until then, the node signs with keys.enc.
 */
export { NEXT_IDENTITY_FILE, NEXT_KEYS_FILE } from './install-keys.ts'

export type RotatableKey = 'ed25519' | 'bls' | 'libp2p'

/** The public side of the new keys, for `ehrlog network propose rotate`. */
export interface NextPublicKeys {
  ed25519PublicKey: string
  blsPublicKey: string
  blsProofOfPossession: string
  /** The PeerId of the libp2p key (keys.enc's own while it is not rotated). */
  peerId: string
}

/**
 * Draws a new key of `kind` and writes keys-next.enc beside keys.enc (on top of an earlier
 * keys-next.enc, so both kinds can be rotated), and identity-next.json (identity.json with the
 * next public keys). Returns the new public keys.
 */
export async function rotateNodeKey(
  dir: string,
  kind: RotatableKey,
  passphrase?: string,
): Promise<NextPublicKeys> {
  const header = parseKeysFile(await readFile(join(dir, NODE_FILES.keys), 'utf8'))
  const { keys, master } = await unlockKeys(dir, header, passphrase)
  try {
    const base = (await openNext(dir, passphrase)) ?? keys
    const drawn: Partial<PrivateKeys> =
      kind === 'ed25519'
        ? { ed25519Seed: new Uint8Array(randomBytes(32)) }
        : kind === 'bls'
          ? { blsSecretKey: generateBlsSecretKey() }
          : { libp2pPrivateKey: privateKeyToProtobuf(await generateKeyPair('Ed25519')) }
    const next: PrivateKeys = {
      ...base,
      ...drawn,
      createdAt: new Date().toISOString(),
    }
    await writeFileAtomic(join(dir, NEXT_KEYS_FILE), sealKeysFile(next, master, header.kdf), {
      mode: 0o600,
    })
    const keysOf = publicOf(next)
    const identity = { ...(await readPublicIdentity(dir)), ...keysOf }
    await writeFileAtomic(join(dir, NEXT_IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`, {
      mode: 0o644,
    })
    return keysOf
  } finally {
    master.fill(0)
  }
}

/** The keys of keys-next.enc, or undefined when the folder has none. */
export async function readNextKeys(
  dir: string,
  passphrase?: string,
): Promise<(PrivateKeys & NextPublicKeys) | undefined> {
  const keys = await openNext(dir, passphrase)
  return keys && { ...keys, ...publicOf(keys) }
}

/** The next keys as the running node holds them: private keys and their public side. */
export type NextKeys = PrivateKeys & NextPublicKeys

/**
 * Reads keys-next.enc again and again for a running node, without its passphrase: it unlocks
 * keys.enc once (as the start does) and keeps only the keys-file key derived from the master
 * secret (HKDF, the key that seals keys.enc and keys-next.enc, nothing else: not the store's
 * keys, not the passphrase), because the node must open the keys `ehrlog keys rotate` writes
 * after it started when a change rotating its own keys is applied, with no restart. Zero it
 * with `close()` when the node stops.
 */
export async function nextKeysReader(
  dir: string,
  passphrase?: string,
): Promise<{ read(): Promise<(NextKeys & { sealed: string }) | undefined>; close(): void }> {
  const header = parseKeysFile(await readFile(join(dir, NODE_FILES.keys), 'utf8'))
  const { master } = await unlockKeys(dir, header, passphrase)
  const fileKey = keysFileKey(master)
  master.fill(0)
  return {
    async read() {
      const text = await readNextText(dir)
      if (text === undefined) return undefined
      const keys = openKeysFileWith(parseKeysFile(text), fileKey)
      if (!keys)
        throw new EhrlogError(
          'KEY_FILE_INVALID',
          `${NEXT_KEYS_FILE} was not sealed with this folder's master secret (or was modified)`,
          { details: { file: NEXT_KEYS_FILE } },
        )
      return { ...keys, ...publicOf(keys), sealed: text }
    },
    close: () => fileKey.fill(0),
  }
}

/** Removes keys-next.enc (a rotation abandoned, or installed as keys.enc). */
export async function discardNextKeys(dir: string): Promise<void> {
  await rm(join(dir, NEXT_KEYS_FILE), { force: true })
}

async function readNextText(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, NEXT_KEYS_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

async function openNext(dir: string, passphrase?: string): Promise<PrivateKeys | undefined> {
  const text = await readNextText(dir)
  if (text === undefined) return undefined
  const { keys, master } = await unlockKeys(dir, parseKeysFile(text), passphrase)
  master.fill(0)
  return keys
}

function publicOf(keys: PrivateKeys): NextPublicKeys {
  return {
    ed25519PublicKey: toHex(ed25519RawPublicKey(ed25519PrivateKey(keys.ed25519Seed))),
    blsPublicKey: toHex(blsPublicKey(keys.blsSecretKey)),
    blsProofOfPossession: toHex(blsProofOfPossession(keys.blsSecretKey)),
    peerId: peerIdFromPrivateKey(privateKeyFromProtobuf(keys.libp2pPrivateKey)).toString(),
  }
}
