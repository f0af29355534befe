import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../node/core/errors.ts'
import { NETWORK_FILE, type NodeIdentity, openNodeDir } from '../node/identity/index.ts'
import { LiveMembership } from '../node/membership/live-membership.ts'
import { OriginKeys } from '../node/membership/origin-keys.ts'
import { storeOfNode } from '../node/node-store.ts'
import type { LogStore } from '../node/store/index.ts'
import { type CliContext, passphraseOf } from './context.ts'

export interface LocalNode {
  node: NodeIdentity
  store: LogStore
}

/**
 * Opens a stopped node's folder and its store for an offline command, runs `task`, and
 * always closes the store. The members' keys come from DIR/network.json and DIR/membership/
 * when present.
 */
export async function withLocalNode<T>(
  ctx: CliContext,
  dir: string,
  task: (local: LocalNode) => Promise<T>,
): Promise<T> {
  // A file where a folder belongs would fail deep inside as INTERNAL: ENOTDIR.
  const found = await stat(dir).catch(() => undefined)
  if (found && !found.isDirectory())
    throw new EhrlogError('ARGUMENT_INVALID', `--dir ${dir} is a file, not a node folder`, {
      details: { field: '--dir' },
    })
  const node = await openNodeDir(dir, { passphrase: passphraseOf(ctx) })
  const keys = await memberKeysOf(dir)
  const store = storeOfNode(node, keys)
  await store.open()
  try {
    // A key rotation's cut is its marker's seq: found in the replica when cuts.json lacks it.
    if (keys instanceof OriginKeys) await keys.findMarkers(store)
    return await task({ node, store })
  } finally {
    await store.close()
  }
}

/**
 * The members' keys the store checks heads with: from DIR/network.json and the membership
 * changes applied since (DIR/membership/, each verified from the genesis), per tree size as
 * the running node has them (rotated keys, frozen feeds of removed members).
 */
async function memberKeysOf(dir: string): Promise<Map<string, string> | OriginKeys> {
  let text: string
  try {
    text = await readFile(join(dir, NETWORK_FILE), 'utf8')
  } catch {
    return new Map() // a lone node: only its own feed's key
  }
  let genesis: unknown
  try {
    genesis = JSON.parse(text)
  } catch (cause) {
    throw new EhrlogError('CONFIG_INVALID', `${join(dir, NETWORK_FILE)}: is not JSON`, {
      cause,
      details: { field: '', source: join(dir, NETWORK_FILE) },
    })
  }
  return OriginKeys.load(await LiveMembership.load(dir, genesis), dir)
}
