import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../node/core/errors.ts'
import { type NodeIdentity, openNodeDir } from '../node/identity/index.ts'
import { storeOfNode } from '../node/node-store.ts'
import type { LogStore } from '../node/store/index.ts'
import { type CliContext, passphraseOf } from './context.ts'

export interface LocalNode {
  node: NodeIdentity
  store: LogStore
}

/**
 * Opens a stopped node's folder and its store for an offline command, runs `task`, and
 * always closes the store. The members' keys come from DIR/network.json when present.
 */
export async function withLocalNode<T>(
  ctx: CliContext,
  dir: string,
  task: (local: LocalNode) => Promise<T>,
): Promise<T> {
  const node = await openNodeDir(dir, { passphrase: passphraseOf(ctx) })
  const store = storeOfNode(node, await memberKeysOf(dir))
  await store.open()
  try {
    return await task({ node, store })
  } finally {
    await store.close()
  }
}

async function memberKeysOf(dir: string): Promise<Map<string, string>> {
  let text: string
  try {
    text = await readFile(join(dir, 'network.json'), 'utf8')
  } catch {
    return new Map()
  }
  try {
    const parsed = JSON.parse(text) as {
      members?: Array<{ name?: unknown; ed25519PublicKey?: unknown }>
    }
    const keys = new Map<string, string>()
    for (const m of parsed.members ?? []) {
      if (typeof m.name === 'string' && typeof m.ed25519PublicKey === 'string')
        keys.set(m.name, m.ed25519PublicKey)
    }
    return keys
  } catch (cause) {
    throw new EhrlogError('CONFIG_INVALID', `${join(dir, 'network.json')} is not valid JSON`, {
      cause,
    })
  }
}
