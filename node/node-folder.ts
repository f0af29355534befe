import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from './core/errors.ts'
import { Membership } from './core/trust/index.ts'
import {
  assertOwnEntry,
  NETWORK_FILE,
  type NodeIdentity,
  openNodeDir,
  ProvenKeys,
  readNodeIndexKey,
} from './identity/index.ts'
import type { Logger } from './logger.ts'

/** What a node is, read from its folder: its identity and config, and the network it is in. */
export interface NodeFolder {
  identity: NodeIdentity
  membership: Membership
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
 * Reads a node folder: keys and config (decrypted with `passphrase` when set), network.json,
 * and the BLS proofs of possession this node verified before (only new ones are checked).
 */
export async function readNodeFolder(
  dir: string,
  passphrase: string | undefined,
  logger: Logger,
): Promise<NodeFolder> {
  const identity = await openNodeDir(dir, passphrase ? { passphrase } : {})
  const networkText = await readNetworkFile(dir)
  const provenKeys = await ProvenKeys.load(dir, identity.provenKeysKey)
  const membership = Membership.parse(networkText, join(dir, NETWORK_FILE), {
    proven: provenKeys.has,
  })
  // A network.json whose entry for this node names other keys would leave it isolated. A node
  // it does not name at all is joining (docs/protocol.md, "A joining node").
  const joining = membership.byName(identity.identity.name) === undefined
  if (!joining) assertOwnEntry(membership, identity.identity, join(dir, NETWORK_FILE))
  const vrfSecretKey = await readNodeIndexKey(dir, membership)
  // Only a cache: a folder it cannot be written to costs the next start the pairings.
  await provenKeys
    .remember(membership.members)
    .catch((err: unknown) =>
      logger.warn({ err: (err as Error).message }, 'could not record the verified BLS proofs'),
    )
  return { identity, membership, networkText, vrfSecretKey, joining }
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
