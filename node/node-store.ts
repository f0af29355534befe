import { join } from 'node:path'
import { fromHex } from './core/hex.ts'
import type { NodeIdentity } from './identity/index.ts'
import { LogStore } from './store/index.ts'

/**
 * The store of a node folder, keyed by what the node trusts: its own tree-head key, and the
 * members' keys from the membership file when there is one. Used by the running node and by
 * the CLI on a stopped node's folder.
 */
export function storeOfNode(
  node: NodeIdentity,
  memberKeys: ReadonlyMap<string, string> = new Map(),
): LogStore {
  const keys = new Map<string, Uint8Array>()
  for (const [name, hex] of memberKeys) {
    const key = fromHex(hex, 32)
    if (key) keys.set(name, key)
  }
  keys.set(node.config.name, node.signingPublicKey)
  return new LogStore({
    path: join(node.dir, node.config.dataDir),
    keys: node.storeKeys,
    originKey: (origin) => keys.get(origin),
  })
}
