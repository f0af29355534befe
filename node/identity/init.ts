import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blsProofOfPossession, blsPublicKey, generateBlsSecretKey } from '../core/bls.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import { ORIGIN_PATTERN } from '../core/layout.ts'
import { ed25519PrivateKey, ed25519RawPublicKey } from '../core/tree-head.ts'
import type { PublicIdentity } from '../core/trust/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import { freeTcpPort, publishedAddresses } from './addresses.ts'
import { DEFAULT_LISTEN, type NodeConfig, parseNodeConfig } from './config.ts'
import { INIT_MARKERS, NODE_FILES, PUBLIC_FILE_MODE, SECRET_FILE_MODE } from './files.ts'
import { type KeysFileKdf, sealKeysFile } from './keys-file.ts'
import {
  DEFAULT_SCRYPT_N,
  formatMasterKey,
  MASTER_SECRET_LENGTH,
  masterSecretFromPassphrase,
} from './master-key.ts'

export interface InitNodeOptions {
  /** Origin name of the node (ORIGIN_PATTERN), e.g. hospital-a. */
  name: string
  /** Derive the master secret from this instead of writing master.key. */
  passphrase?: string
  /** libp2p listen addresses; default: 127.0.0.1 on a port free now (addresses.ts). */
  listen?: string[]
  /** Addresses other nodes dial (public IP or DNS name and port); published instead of listen. */
  announce?: string[]
  httpPort?: number
  /** Other members' portal addresses (config.json `portals`). */
  portals?: Record<string, string>
  /** Clock for the keys' creation time; tests pin it. */
  now?: () => Date
  /** scrypt cost N for passphrase mode (power of 2, 2^10..2^20); tests lower it. */
  scryptN?: number
}

/**
 * Creates a node folder (or fills an empty one): fresh keys, master secret, API token, and
 * config.json, identity.json, keys.enc, master.key (unless a passphrase is given). Never
 * overwrites: ALREADY_INITIALIZED if any of those files exist. Returns the public identity.
 */
export async function initNodeDir(dir: string, options: InitNodeOptions): Promise<PublicIdentity> {
  const { name, passphrase, now = () => new Date(), scryptN = DEFAULT_SCRYPT_N } = options
  checkOptions(options)
  // Without --listen: a fixed loopback port, free now, so identity.json can name it and the
  // nodes of a one-machine network find each other (a port 0 would be unknown to the others).
  const listen = options.listen ?? [`/ip4/127.0.0.1/tcp/${await freeTcpPort()}`]
  const config = buildConfig({ ...options, listen })
  const addresses = publishedAddresses(config.listen, config.announce)
  await prepareFolder(dir)

  const ed25519Seed = new Uint8Array(randomBytes(32))
  const libp2pKey = await generateKeyPair('Ed25519')
  const blsSecretKey = generateBlsSecretKey()
  let master: Uint8Array
  let kdf: KeysFileKdf
  if (passphrase === undefined) {
    master = new Uint8Array(randomBytes(MASTER_SECRET_LENGTH))
    kdf = 'file'
  } else {
    const salt = new Uint8Array(randomBytes(16))
    master = await masterSecretFromPassphrase(passphrase, { salt, N: scryptN, r: 8, p: 1 })
    kdf = { name: 'scrypt', salt: toHex(salt), N: scryptN, r: 8, p: 1 }
  }

  const keysText = sealKeysFile(
    {
      ed25519Seed,
      libp2pPrivateKey: privateKeyToProtobuf(libp2pKey),
      blsSecretKey,
      createdAt: now().toISOString(),
    },
    master,
    kdf,
  )
  const identity: PublicIdentity = {
    name,
    ed25519PublicKey: toHex(ed25519RawPublicKey(ed25519PrivateKey(ed25519Seed))),
    peerId: peerIdFromPrivateKey(libp2pKey).toString(),
    blsPublicKey: toHex(blsPublicKey(blsSecretKey)),
    blsProofOfPossession: toHex(blsProofOfPossession(blsSecretKey)),
    addresses,
  }

  // config.json goes last: open() treats a folder without it as not initialized, so a crash
  // part-way leaves a folder that neither opens with half its keys nor is silently re-keyed.
  const files: Array<[string, string, number]> = []
  if (kdf === 'file') files.push([NODE_FILES.masterKey, formatMasterKey(master), SECRET_FILE_MODE])
  files.push([NODE_FILES.keys, keysText, SECRET_FILE_MODE])
  files.push([NODE_FILES.identity, `${JSON.stringify(identity, null, 2)}\n`, PUBLIC_FILE_MODE])
  files.push([NODE_FILES.config, `${JSON.stringify(config, null, 2)}\n`, SECRET_FILE_MODE])
  master.fill(0)
  await writeAll(dir, files)
  return identity
}

function checkOptions(options: InitNodeOptions): void {
  if (typeof options.name !== 'string' || !ORIGIN_PATTERN.test(options.name)) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `node name ${JSON.stringify(options.name)} is not a lower-case DNS label (a-z, 0-9, -; 1-63 characters)`,
      { details: { field: 'name' } },
    )
  }
  if (options.passphrase !== undefined && options.passphrase.length === 0) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'passphrase is empty; omit it to use a master.key file',
      {
        details: { field: 'passphrase' },
      },
    )
  }
  const n = options.scryptN
  if (
    n !== undefined &&
    (!Number.isInteger(n) || n < 2 ** 10 || n > 2 ** 20 || (n & (n - 1)) !== 0)
  ) {
    throw new EhrlogError('ARGUMENT_INVALID', `scryptN is ${n}, want a power of 2 in 2^10..2^20`, {
      details: { field: 'scryptN' },
    })
  }
}

// The init options go through the same schema as config.json, so a bad listen address or port
// is refused before anything is written; but here it is the caller's argument that is wrong.
function buildConfig(options: InitNodeOptions): NodeConfig {
  try {
    return parseNodeConfig(
      {
        name: options.name,
        listen: options.listen ?? DEFAULT_LISTEN,
        announce: options.announce ?? [],
        http: { host: '127.0.0.1', port: options.httpPort ?? 0 },
        apiToken: randomBytes(32).toString('base64url'),
        alerts: { admins: [] },
        ...(options.portals ? { portals: options.portals } : {}),
        dataDir: NODE_FILES.dataDir,
      },
      'init options',
    )
  } catch (err) {
    if (!isEhrlogError(err, 'CONFIG_INVALID')) throw err
    throw new EhrlogError('ARGUMENT_INVALID', err.message, { details: err.details, cause: err })
  }
}

const INIT_TEMP_FILE =
  /^\.(?:config\.json|identity\.json|master\.key|keys\.enc)\.[0-9a-f]{12}\.tmp$/

async function prepareFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `cannot create node folder ${dir}: ${(err as Error).message}`,
      {
        details: { field: 'dir' },
        cause: err,
      },
    )
  }
  // Temporary files of an init that crashed or is running concurrently do not count as content;
  // a concurrent init then fails cleanly on the no-clobber link instead.
  const entries = (await readdir(dir)).filter((entry) => !INIT_TEMP_FILE.test(entry))
  const existing = INIT_MARKERS.filter((file) => entries.includes(file))
  if (existing.length > 0) {
    throw new EhrlogError(
      'ALREADY_INITIALIZED',
      `${dir} already holds ${existing.join(', ')}; refusing to overwrite node keys`,
      { details: { dir, files: existing } },
    )
  }
  if (entries.length > 0) {
    // A leftover store or stray files would not match the fresh keys.
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `${dir} is not empty (found ${entries.slice(0, 5).join(', ')})`,
      {
        details: { field: 'dir', dir },
      },
    )
  }
}

/** Writes each file no-clobber; on failure removes only the files this call created. */
async function writeAll(dir: string, files: Array<[string, string, number]>): Promise<void> {
  const written: string[] = []
  try {
    for (const [file, text, mode] of files) {
      await writeFileAtomic(join(dir, file), text, { mode, noClobber: true })
      written.push(file)
    }
  } catch (err) {
    for (const file of written) await rm(join(dir, file), { force: true })
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new EhrlogError(
        'ALREADY_INITIALIZED',
        `${dir} was initialized by another process meanwhile`,
        {
          details: { dir },
          cause: err,
        },
      )
    }
    throw err
  }
}
