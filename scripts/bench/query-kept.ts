// The keys of the query benchmark's kept store (QUERY_STORE_DIR=DIR, in DIR/bench.json).
import type { KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The keys of a kept store (QUERY_STORE_DIR), so the next run can open it. */
export interface KeptStore {
  /** Bumped whenever batch() changes what the store holds. */
  layout: number
  entries: number
  valueKey: string
  indexKey: string
  /** The index's VRF secret key, hex (the target's beta is cached under it). */
  vrfKey: string
  /** origin → Ed25519 private key, PKCS#8 DER, base64. */
  signers: Record<string, string>
}

/** The kept store's keys in `dir`, if it holds `entries` entries of this `layout`. */
export async function keptStore(
  dir: string,
  entries: number,
  layout: number,
): Promise<KeptStore | undefined> {
  try {
    const kept = JSON.parse(await readFile(join(dir, 'bench.json'), 'utf8')) as KeptStore
    return kept.entries === entries && kept.layout === layout ? kept : undefined
  } catch {
    return undefined
  }
}

export function keep(
  layout: number,
  entries: number,
  keys: { valueKey: Uint8Array; indexKey: Uint8Array },
  vrfKey: Uint8Array,
  signers: Array<{ origin: string; privateKey: KeyObject }>,
): KeptStore {
  return {
    layout,
    entries,
    valueKey: Buffer.from(keys.valueKey).toString('hex'),
    indexKey: Buffer.from(keys.indexKey).toString('hex'),
    vrfKey: Buffer.from(vrfKey).toString('hex'),
    signers: Object.fromEntries(
      signers.map((s) => [
        s.origin,
        s.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      ]),
    ),
  }
}
