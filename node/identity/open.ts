import type { KeyObject } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blsPublicKey } from '../core/bls.ts'
import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import { TAGS } from '../core/layout.ts'
import { ed25519PrivateKey, ed25519RawPublicKey } from '../core/tree-head.ts'
import type { PublicIdentity } from '../core/trust/index.ts'
import { type NodeConfig, parseNodeConfigText } from './config.ts'
import { NODE_FILES } from './files.ts'
import { finishKeyInstall } from './install-keys.ts'
import {
  type KeysFileHeader,
  openKeysFile,
  type PrivateKeys,
  parseKeysFile,
  scryptParamsOf,
} from './keys-file.ts'
import {
  deriveKey,
  deriveStoreKeys,
  masterSecretFromPassphrase,
  readMasterKeyFile,
  type StoreKeys,
} from './master-key.ts'
import { readPublicIdentity } from './public-identity.ts'

/** Everything a running node needs from its folder, secrets decrypted. */
export interface NodeIdentity {
  dir: string
  config: NodeConfig
  identity: PublicIdentity
  /** Signs the node's feed tree heads. */
  signingKey: KeyObject
  signingPublicKey: Uint8Array
  libp2pPrivateKey: PrivateKey
  blsSecretKey: Uint8Array
  storeKeys: StoreKeys
  /** HMAC key of the proofs of possession already verified (proven-keys.ts). */
  provenKeysKey: Uint8Array
}

export interface OpenNodeOptions {
  /** Required when the folder was initialized with a passphrase; ignored otherwise. */
  passphrase?: string
}

/**
 * Opens an initialized node folder: validates config.json, derives the master secret (master.key
 * or passphrase), decrypts keys.enc and checks the keys match identity.json.
 * Errors: NOT_INITIALIZED, CONFIG_INVALID, KEY_FILE_INVALID, PASSPHRASE_REQUIRED, PASSPHRASE_WRONG,
 * FILE_INVALID (malformed identity.json).
 */
export async function openNodeDir(
  dir: string,
  options: OpenNodeOptions = {},
): Promise<NodeIdentity> {
  await assertPrivate(join(dir, NODE_FILES.config))
  const configText = await readNodeFile(dir, NODE_FILES.config)
  const config = parseNodeConfigText(configText)
  const header = parseKeysFile(await readNodeFile(dir, NODE_FILES.keys))
  const { keys, master } = await unlockKeys(dir, header, options.passphrase)
  const storeKeys = deriveStoreKeys(master)
  const provenKeysKey = deriveKey(master, TAGS.hkdfProvenKeys)
  master.fill(0)

  let identity = await readPublicIdentity(dir)
  const signingKey = ed25519PrivateKey(keys.ed25519Seed)
  const signingPublicKey = ed25519RawPublicKey(signingKey)
  let libp2pPrivateKey: PrivateKey
  try {
    libp2pPrivateKey = privateKeyFromProtobuf(keys.libp2pPrivateKey)
  } catch (err) {
    throw keyFileInvalid(`${NODE_FILES.keys}: libp2p private key is not a valid protobuf key`, err)
  }

  if (identity.name !== config.name) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `config.json name "${config.name}" differs from identity.json name "${identity.name}"`,
      { details: { field: 'name', source: NODE_FILES.config } },
    )
  }
  // identity.json is what other hospitals trust; keys that do not match it would sign
  // tree heads and checkpoints nobody can verify.
  const held = {
    ed25519PublicKey: toHex(signingPublicKey),
    peerId: peerIdFromPrivateKey(libp2pPrivateKey).toString(),
    blsPublicKey: toHex(blsPublicKey(keys.blsSecretKey)),
  }
  const mismatchOf = (published: PublicIdentity) =>
    (['ed25519PublicKey', 'peerId', 'blsPublicKey'] as const).find(
      (field) => published[field] !== held[field],
    )
  let mismatch = mismatchOf(identity)
  // An install of rotated keys stopped after keys.enc was written (install-keys.ts): finish it.
  const finished = mismatch ? await finishKeyInstall(dir, held) : undefined
  if (finished) {
    identity = finished
    mismatch = undefined
  }
  if (mismatch) {
    throw keyFileInvalid(
      `${NODE_FILES.identity} ${mismatch} does not match the key in ${NODE_FILES.keys}`,
      undefined,
      {
        field: mismatch,
      },
    )
  }

  return {
    dir,
    config,
    identity,
    signingKey,
    signingPublicKey,
    libp2pPrivateKey,
    blsSecretKey: keys.blsSecretKey,
    storeKeys,
    provenKeysKey,
  }
}

/**
 * Opens the keys file `header` with the folder's master secret (master.key or the passphrase).
 * The caller zeroes `master` when done. Also opens keys-next.enc (next-keys.ts).
 */
export async function unlockKeys(
  dir: string,
  header: KeysFileHeader,
  passphrase: string | undefined,
): Promise<{ keys: PrivateKeys; master: Uint8Array }> {
  if (header.kdf === 'file') {
    const master = await readMasterKeyFile(join(dir, NODE_FILES.masterKey))
    if (!master) {
      throw keyFileInvalid(
        `${NODE_FILES.masterKey} is missing, and ${NODE_FILES.keys} is sealed with it`,
      )
    }
    const keys = openKeysFile(header, master)
    // No passphrase is involved, so a failed GCM check means the two files do not belong together.
    if (!keys) {
      throw keyFileInvalid(
        `${NODE_FILES.keys} was not sealed with this ${NODE_FILES.masterKey} (or was modified)`,
      )
    }
    return { keys, master }
  }
  if (!passphrase) {
    throw new EhrlogError(
      'PASSPHRASE_REQUIRED',
      `${NODE_FILES.keys} is protected by a passphrase; set EHRLOG_PASSPHRASE`,
      { details: { dir } },
    )
  }
  const master = await masterSecretFromPassphrase(passphrase, scryptParamsOf(header.kdf))
  const keys = openKeysFile(header, master)
  if (!keys) {
    throw new EhrlogError(
      'PASSPHRASE_WRONG',
      `wrong passphrase for ${NODE_FILES.keys} (or the file was modified)`,
      {
        details: { dir },
      },
    )
  }
  return { keys, master }
}

async function readNodeFile(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EhrlogError(
        'NOT_INITIALIZED',
        `${join(dir, file)} does not exist; run ehrlog init`,
        {
          details: { dir, file },
          cause: err,
        },
      )
    }
    throw err
  }
}

function keyFileInvalid(
  message: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
): EhrlogError {
  return new EhrlogError('KEY_FILE_INVALID', message, { details, cause })
}

/**
 * config.json holds the EHR's API token: like master.key (master-key.ts) it must not be
 * readable by group or others (`ehrlog init` writes it 0600). CONFIG_INVALID with the fix.
 */
async function assertPrivate(path: string): Promise<void> {
  if (process.platform === 'win32') return
  const found = await stat(path).catch(() => undefined)
  if (!found || (found.mode & 0o077) === 0) return // a missing file is readNodeFile's to report
  const mode = (found.mode & 0o777).toString(8).padStart(4, '0')
  throw new EhrlogError(
    'CONFIG_INVALID',
    `${NODE_FILES.config} has mode ${mode}, want 0600: it holds the API token (chmod 600 ${path})`,
    { details: { field: 'mode', source: NODE_FILES.config, mode } },
  )
}
