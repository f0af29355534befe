import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import { bytesEqual, toHex } from '../core/hex.ts'
import { vrfKeyPair } from '../core/index/index.ts'
import type { Membership } from '../core/trust/index.ts'
import { NODE_FILES, SECRET_FILE_MODE } from './files.ts'
import { formatSecretKey, readSecretKeyFile } from './master-key.ts'

/*
 * index.key: the network's ECVRF secret key for the per-patient index (docs/architecture.md,
 * "Complete answers"). Unlike every other key of a node it is the network's, not the node's:
 * every member holds the same one, because every member computes every patient's tree key to
 * maintain and check every origin's index; its public half is network.json's `vrfPublicKey`.
 * Kept like master.key: mode 0600, refused otherwise.
 */

const INDEX_KEY_HEADER = 'ehrlog-index-vrf-key-v1'

/** A fresh network VRF key: the secret (for index.key) and its public key (for network.json). */
export function newIndexKey(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  return vrfKeyPair(new Uint8Array(randomBytes(32)))
}

/** Writes `secretKey` as an index.key file at `path` (mode 0600). */
export async function writeIndexKey(path: string, secretKey: Uint8Array): Promise<void> {
  await writeFile(path, formatSecretKey(INDEX_KEY_HEADER, secretKey), { mode: SECRET_FILE_MODE })
}

/** Reads an index.key file; undefined when it does not exist. */
export function readIndexKeyFile(path: string): Promise<Uint8Array | undefined> {
  return readSecretKeyFile(path, NODE_FILES.indexKey, INDEX_KEY_HEADER)
}

/**
 * The node folder's index.key, checked against network.json: a missing key or one whose public
 * half is not the network's would make this node compute an index no other member agrees with.
 */
export async function readNodeIndexKey(dir: string, membership: Membership): Promise<Uint8Array> {
  const path = join(dir, NODE_FILES.indexKey)
  const secret = await readIndexKeyFile(path)
  if (!secret) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `${path} is missing: every member needs the network's index key (\`ehrlog network init\` writes it into each folder; \`ehrlog network assemble\` writes it next to network.json: copy it into every node folder with mode 0600)`,
      { details: { field: NODE_FILES.indexKey } },
    )
  }
  const want = membership.keys.vrfPublicKey
  if (!bytesEqual(vrfKeyPair(secret).publicKey, want)) {
    throw new EhrlogError(
      'KEY_FILE_INVALID',
      `${path} is not the key of this network: network.json's vrfPublicKey is ${toHex(want).slice(0, 16)}…`,
      { details: { file: NODE_FILES.indexKey } },
    )
  }
  return secret
}
