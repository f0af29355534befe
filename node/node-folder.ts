import type { KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { EhrlogError } from './core/errors.ts'
import { ed25519PrivateKey, ed25519RawPublicKey } from './core/tree-head.ts'
import type { Membership } from './core/trust/index.ts'
import {
  assertOwnEntry,
  NETWORK_FILE,
  type NodeIdentity,
  openNodeDir,
  ProvenKeys,
  readNodeIndexKey,
} from './identity/index.ts'
import { nextKeysReader } from './identity/next-keys.ts'
import type { Logger } from './logger.ts'
import { LiveMembership, MEMBERSHIP_DIR } from './membership/live-membership.ts'
import { OriginKeys } from './membership/origin-keys.ts'
import type { LoadedNextKeys } from './membership/own-rotation.ts'

/** What a node is, read from its folder: its identity and config, and the network it is in. */
export interface NodeFolder {
  identity: NodeIdentity
  /**
   * The version in force when the node started (genesis network.json plus membership/): for
   * parts that read the members once. Parts that must follow changes take `live`.
   */
  membership: Membership
  /** The membership as it changes: genesis, the applied changes, the one pending for the cut. */
  live: LiveMembership
  /** Each origin's Ed25519 key per tree size across versions (rotations, removed members). */
  originKeys: OriginKeys
  /**
   * keys-next.enc (`ehrlog keys rotate`): the keys this node switches to when a change rotating
   * its own keys takes effect. Undefined: none installed. Changes while the node runs: read
   * again (nextKeys) when a change rotating its keys is applied, cleared once installed.
   */
  next: { signingKey: KeyObject; blsSecretKey: Uint8Array } | undefined
  /** keys-next.enc as read last, and how to read it again with no passphrase (next-keys.ts). */
  nextKeys: {
    current: LoadedNextKeys | undefined
    read(): Promise<LoadedNextKeys | undefined>
    close(): void
  }
  /** keys.enc's Ed25519 key, before any key of keys-next.enc replaced it in `identity`. */
  installedSigningKey: KeyObject
  /** network.json as read: the portal hands it to browsers, which verify it themselves. */
  networkText: string
  /** The network's VRF secret key for the per-patient index (index.key), checked against network.json. */
  vrfSecretKey: Uint8Array
  /**
   * A hospital joining the network: no version this folder holds lists its name. It starts
   * from them, fetches the chain of changes from the members (node/net membership sync) and
   * neither appends nor cosigns until a verified version lists it.
   */
  joining: boolean
}

/**
 * Reads a node folder: keys and config (decrypted with `passphrase` when set), network.json
 * (the genesis) with the membership changes applied since (membership/NNNNNN.json, each
 * verified against the version before), and the BLS proofs of possession this node verified
 * before (only new ones are checked).
 */
export async function readNodeFolder(
  dir: string,
  passphrase: string | undefined,
  logger: Logger,
): Promise<NodeFolder> {
  const opened = await openNodeDir(dir, passphrase ? { passphrase } : {})
  const reader = await nextKeysReader(dir, passphrase)
  const nextKeys = await reader.read()
  const next = nextKeys && {
    signingKey: ed25519PrivateKey(nextKeys.ed25519Seed),
    blsSecretKey: nextKeys.blsSecretKey,
  }
  // Follows what the running node reads (own-rotation.ts): `next` is what it holds now.
  let current = nextKeys
  const folderNext: NodeFolder['nextKeys'] = {
    get current() {
      return current
    },
    set current(keys) {
      current = keys
      folder.next = keys && {
        signingKey: ed25519PrivateKey(keys.ed25519Seed),
        blsSecretKey: keys.blsSecretKey,
      }
    },
    read: () => reader.read(),
    close: () => reader.close(),
  }
  const networkText = await readNetworkFile(dir)
  const provenKeys = await ProvenKeys.load(dir, opened.provenKeysKey)
  const live = await LiveMembership.load(dir, parseNetworkText(dir, networkText), {
    proven: provenKeys.has,
  })
  const membership = live.current
  const listed = membership.byName(opened.identity.name)
  // A node no version lists is joining (docs/protocol.md, "A joining node").
  const joining = listed === undefined
  // A rotation of this node's keys applied before this start: the new keys of keys-next.enc.
  const identity = withNextKeys(opened, listed, nextKeys, next)
  // An entry for this node naming other keys would leave it isolated (after a rotation of its
  // own keys: the new keys must be installed in its folder first).
  const source =
    membership.version === 0 ? NETWORK_FILE : `${MEMBERSHIP_DIR}/ (version ${membership.version})`
  if (!joining) assertOwnEntry(membership, identity.identity, join(dir, source))
  const vrfSecretKey = await readNodeIndexKey(dir, live.at(0)!)
  // Only a cache: a folder it cannot be written to costs the next start the pairings.
  await provenKeys
    .remember(membership.members)
    .catch((err: unknown) =>
      logger.warn({ err: (err as Error).message }, 'could not record the verified BLS proofs'),
    )
  const originKeys = await OriginKeys.load(live, dir)
  const folder: NodeFolder = {
    identity,
    membership,
    live,
    originKeys,
    next,
    nextKeys: folderNext,
    installedSigningKey: opened.signingKey,
    networkText,
    vrfSecretKey,
    joining,
  }
  return folder
}

/** `identity` with the keys of keys-next.enc that `listed` (its entry in force) names. */
function withNextKeys(
  identity: NodeIdentity,
  listed: { ed25519PublicKey: string; blsPublicKey: string; peerId: string } | undefined,
  nextKeys: LoadedNextKeys | undefined,
  next: NodeFolder['next'],
): NodeIdentity {
  if (!listed || !nextKeys || !next) return identity
  const ed = listed.ed25519PublicKey === nextKeys.ed25519PublicKey
  const bls = listed.blsPublicKey === nextKeys.blsPublicKey
  // A rotated libp2p key: the network starts on the PeerId the version in force lists.
  const p2p = listed.peerId === nextKeys.peerId && identity.identity.peerId !== nextKeys.peerId
  return {
    ...identity,
    identity: {
      ...identity.identity,
      ...(ed ? { ed25519PublicKey: nextKeys.ed25519PublicKey } : {}),
      ...(bls ? { blsPublicKey: nextKeys.blsPublicKey } : {}),
      ...(p2p ? { peerId: nextKeys.peerId } : {}),
    },
    ...(ed
      ? { signingKey: next.signingKey, signingPublicKey: ed25519RawPublicKey(next.signingKey) }
      : {}),
    ...(bls ? { blsSecretKey: next.blsSecretKey } : {}),
    ...(p2p ? { libp2pPrivateKey: privateKeyFromProtobuf(nextKeys.libp2pPrivateKey) } : {}),
  }
}

function parseNetworkText(dir: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new EhrlogError('CONFIG_INVALID', `${join(dir, NETWORK_FILE)}: is not JSON`, {
      cause,
      details: { field: '', source: join(dir, NETWORK_FILE) },
    })
  }
}

async function readNetworkFile(dir: string): Promise<string> {
  try {
    return await readFile(join(dir, NETWORK_FILE), 'utf8')
  } catch (cause) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `${join(dir, NETWORK_FILE)} is missing: a node needs the network's membership file (see \`ehrlog network init\`)`,
      {
        cause,
        details: { field: NETWORK_FILE },
      },
    )
  }
}
