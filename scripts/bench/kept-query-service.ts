// The query service the kept-store benchmarks (fhir-kept.ts, trail-pages.ts) answer with: the
// index committed at a checkpoint of every feed as the store holds it, cosigned by 3 fresh BLS
// keys, one auditor session, no rate limit, and the tree cache warmed as a node does after
// start (node.ts). Import it after any patch of node:crypto a benchmark makes: it loads the
// node's modules.
import crypto from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateBlsSecretKey } from '../../node/core/bls.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { IndexService } from '../../node/index/index.ts'
import { QueryService, type Session } from '../../node/query/index.ts'
import { LogStore, type LogStoreOptions } from '../../node/store/index.ts'
import { auditorSession, checkpointOfStore, cosignedBy3 } from './bench-checkpoint.ts'

/** The feeds of a store kept by query.ts. */
export const KEPT_FEEDS: readonly string[] = [
  'hospital-a',
  'hospital-b',
  'hospital-c',
  'hospital-d',
]

/**
 * Opens a store kept by scripts/bench/query.ts (QUERY_STORE_DIR: its db/ and bench.json, the
 * keys) and its index: the store, the index, and each feed's signing key (KEPT_FEEDS order).
 */
export async function openKeptStore(
  dir: string,
  options: Pick<LogStoreOptions, 'treeCache'> = {},
): Promise<{
  store: LogStore
  index: IndexService
  signers: Array<{ origin: string; privateKey: crypto.KeyObject }>
}> {
  const kept = JSON.parse(await readFile(join(dir, 'bench.json'), 'utf8')) as {
    valueKey: string
    indexKey: string
    vrfKey: string
    signers: Record<string, string>
  }
  const signers = KEPT_FEEDS.map((origin) => ({
    origin,
    privateKey: crypto.createPrivateKey({
      key: Buffer.from(kept.signers[origin]!, 'base64'),
      format: 'der',
      type: 'pkcs8',
    }),
  }))
  const publicKeys = new Map(signers.map((s) => [s.origin, ed25519RawPublicKey(s.privateKey)]))
  const store = new LogStore({
    path: join(dir, 'db'),
    keys: {
      valueKey: Buffer.from(kept.valueKey, 'hex'),
      indexKey: Buffer.from(kept.indexKey, 'hex'),
    },
    originKey: (o) => publicKeys.get(o),
    ...options,
  })
  await store.open()
  const index = await IndexService.open(store, Buffer.from(kept.vrfKey, 'hex'))
  return { store, index, signers }
}

export async function keptQueryService(opts: {
  store: LogStore
  index: IndexService
  feeds: readonly string[]
  /** Where each answered query's own audit event goes (default: nowhere). */
  record?: (event: AuditEvent) => Promise<void>
}): Promise<{ service: QueryService; session: Session }> {
  const { store, index, feeds } = opts
  const roots = await Promise.all(feeds.map((o) => index.rootAt(o, store.size(o))))
  const checkpoint = checkpointOfStore(store, feeds, roots, new Uint8Array(crypto.randomBytes(32)))
  await index.commit(checkpoint)
  const cosigned = cosignedBy3(checkpoint, feeds.map(generateBlsSecretKey))
  const session = auditorSession('hospital-d')
  const service = new QueryService({
    node: 'hospital-d',
    store,
    checkpoints: { latest: () => cosigned },
    auth: { authenticate: () => session },
    rateLimit: { perMinute: 1e9, burst: 1e9 },
    index,
    record: opts.record ?? (async () => {}),
  })
  await store.warmTreeCache()
  return { service, session }
}
