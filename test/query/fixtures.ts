import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { blsPublicKey, blsSign, generateBlsSecretKey } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  type CosignedCheckpoint,
  checkpointSigningMessage,
} from '../../node/core/checkpoint.ts'
import { toHex } from '../../node/core/hex.ts'
import { EMPTY_ROOT } from '../../node/core/merkle/index.ts'
import type { AnswerCheck, QueryFilter, QueryScope } from '../../node/core/trust/index.ts'
import { buildAnswer, selectEntries } from '../../node/query/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

export const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c'] as const

/**
 * A replica holding two feeds and a three-member network's keys (no libp2p): enough to build
 * answers exactly as a node does (selectEntries + buildAnswer) and to cosign checkpoints.
 */
export function useQueryWorld() {
  const tempDir = useTempDirs()
  const stores: LogStore[] = []
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()))
  })
  const signers = ORIGINS.map(makeSigner)
  const bls = ORIGINS.map(() => generateBlsSecretKey())
  const networkId = new Uint8Array(randomBytes(32))

  async function open(): Promise<LogStore> {
    const store = openStore(join(await tempDir(), 'db'), makeStoreKeys(), signers)
    await store.open()
    stores.push(store)
    return store
  }

  /** Appends `count` events (makeEvent(first..)) to `origin`'s feed in one batch. */
  async function append(store: LogStore, origin: number, first: number, count: number) {
    const events = Array.from({ length: count }, (_, i) => makeEvent(first + i))
    await store.appendEvents(signers[origin]!, events)
  }

  /** The store's current state, cosigned by members `by` (default: all three). */
  async function cosign(
    store: LogStore,
    by = [0, 1, 2],
    timeMs = Date.now(),
  ): Promise<CosignedCheckpoint> {
    const checkpoint: Checkpoint = {
      networkId,
      timeMs,
      feeds: ORIGINS.map((origin) => ({
        origin,
        treeSize: store.size(origin),
        root: store.latestHead(origin)?.root ?? EMPTY_ROOT,
        indexRoot: new Uint8Array(32),
      })),
    }
    const message = checkpointSigningMessage(checkpoint)
    return aggregateCosignatures(
      checkpoint,
      new Map(by.map((i) => [i, blsSign(bls[i]!, message)])),
      ORIGINS.length,
    )
  }

  async function answer(
    store: LogStore,
    checkpoint: CosignedCheckpoint | undefined,
    filter: QueryFilter,
    opts: { limit?: number; after?: { origin: string; seq: number } } = {},
  ) {
    const selection = await selectEntries(store, filter, opts.after, opts.limit ?? 100)
    return buildAnswer(store, { node: 'hospital-a', filter, selection, checkpoint })
  }

  function trust(filter: QueryFilter, scope: QueryScope = {}, cursor?: string): AnswerCheck {
    return {
      keys: {
        networkId: toHex(networkId),
        blsKeys: bls.map(blsPublicKey),
        ed25519Keys: new Map(signers.map((s) => [s.origin, s.publicKey])),
        vrfPublicKey: new Uint8Array(32),
      },
      filter,
      scope,
      ...(cursor ? { cursor } : {}),
    }
  }

  return { open, append, cosign, answer, trust, signers }
}
