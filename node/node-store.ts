import { join } from 'node:path'
import { fromHex } from './core/hex.ts'
import type { NodeIdentity } from './identity/index.ts'
import { OriginKeys } from './membership/origin-keys.ts'
import { LogStore } from './store/index.ts'

/**
 * The store of a node folder, keyed by what the node trusts: the running node passes its
 * OriginKeys (each origin's key per tree size, across membership versions: rotated keys, frozen
 * feeds of removed members); the CLI on a stopped folder passes the members' keys by name (its
 * own tree-head key is added).
 */
export function storeOfNode(
  node: NodeIdentity,
  memberKeys: ReadonlyMap<string, string> | OriginKeys = new Map(),
): LogStore {
  if (memberKeys instanceof OriginKeys) {
    return new LogStore({
      path: join(node.dir, node.config.dataDir),
      keys: node.storeKeys,
      // A joining node's own feed (written before any version lists it): its own key.
      originKey: (origin, treeSize) =>
        memberKeys.storedKeyAt(origin, treeSize) ??
        (origin === node.config.name && memberKeys.erasOf(origin).length === 0
          ? node.signingPublicKey
          : undefined),
      headKeys: (origin, treeSize, entries) => memberKeys.headKeys(origin, treeSize, entries),
    })
  }
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
