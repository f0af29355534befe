import { join } from 'node:path'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { afterEach } from 'vitest'
import {
  blsProofOfPossession,
  blsPublicKey,
  blsSign,
  generateBlsSecretKey,
} from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  type CosignedCheckpoint,
  checkpointSigningMessage,
} from '../../node/core/checkpoint.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { encodeCompletenessProof, PatientIndex } from '../../node/core/index/index.ts'
import { EMPTY_ROOT } from '../../node/core/merkle/index.ts'
import {
  type AnswerCheck,
  completenessPatientOf,
  networkIdOf,
  type QueryFilter,
  type QueryScope,
} from '../../node/core/trust/index.ts'
import { buildAnswer, selectEntries } from '../../node/query/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import {
  makeEvent,
  makeSigner,
  makeStoreKeys,
  openStore,
  TEST_VRF_PUBLIC_KEY_HEX,
  TEST_VRF_SECRET_KEY,
} from '../helpers/fixtures.ts'
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
  // A real network.json for these keys: the CLI and the browser verify against the file.
  const networkJson = {
    members: ORIGINS.map((name, i) => ({
      name,
      ed25519PublicKey: toHex(signers[i]!.publicKey),
      peerId: peerIdFromPublicKey(publicKeyFromRaw(signers[i]!.publicKey)).toString(),
      blsPublicKey: toHex(blsPublicKey(bls[i]!)),
      blsProofOfPossession: toHex(blsProofOfPossession(bls[i]!)),
      addresses: [],
    })),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  }
  const networkId = fromHex(networkIdOf(networkJson), 32)!

  async function open(): Promise<LogStore> {
    const store = openStore(join(await tempDir(), 'db'), makeStoreKeys(), signers)
    await store.open()
    stores.push(store)
    return store
  }

  /** Appends `count` events (makeEvent(first..), with `overrides`) to `origin`'s feed in one batch. */
  async function append(
    store: LogStore,
    origin: number,
    first: number,
    count: number,
    overrides: Partial<AuditEvent> = {},
  ) {
    const events = Array.from({ length: count }, (_, i) => makeEvent(first + i, overrides))
    await store.appendEvents(signers[origin]!, events)
  }

  /**
   * The per-patient index of every origin's first `sizes[origin]` entries (default: all the
   * store holds), rebuilt from the store's entries as every member computes it.
   */
  async function indexOf(
    store: LogStore,
    sizes: ReadonlyMap<string, number> = new Map(ORIGINS.map((o) => [o, store.size(o)])),
  ): Promise<PatientIndex> {
    const index = new PatientIndex(TEST_VRF_SECRET_KEY)
    for (const origin of ORIGINS) {
      const size = sizes.get(origin) ?? 0
      if (size === 0) continue
      for await (const { entry } of store.entries(origin, 1, size)) {
        const patientId =
          entry.kind === 'event' ? (entry.body as { patientId: string }).patientId : undefined
        index.applyEntry(origin, entry.seq, patientId)
      }
    }
    return index
  }

  /** The store's current state with its index roots, cosigned by members `by` (default: all three). */
  async function cosign(
    store: LogStore,
    by = [0, 1, 2],
    timeMs = Date.now(),
  ): Promise<CosignedCheckpoint> {
    const index = await indexOf(store)
    const checkpoint: Checkpoint = {
      networkId: networkId,
      membership: { version: 0, hash: networkId },
      timeMs,
      feeds: ORIGINS.map((origin) => ({
        origin,
        treeSize: store.size(origin),
        root: store.latestHead(origin)?.root ?? EMPTY_ROOT,
        indexRoot: index.indexRoot(origin),
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
    const answer = await buildAnswer(store, { node: 'hospital-a', filter, selection, checkpoint })
    const patientId = completenessPatientOf(filter)
    if (patientId !== undefined && checkpoint)
      answer.completeness = await completenessAt(store, checkpoint, patientId)
    return answer
  }

  /** What a node attaches for `patientId` at `checkpoint`'s cut (the node side's job). */
  async function completenessAt(
    store: LogStore,
    checkpoint: CosignedCheckpoint,
    patientId: string,
  ): Promise<{ patientId: string; proof: string }> {
    const cut = checkpoint.checkpoint.feeds
    const index = await indexOf(store, new Map(cut.map((f) => [f.origin, f.treeSize])))
    const proof = index.prove(
      patientId,
      cut.map((f) => f.origin),
    )
    return { patientId, proof: Buffer.from(encodeCompletenessProof(proof)).toString('base64') }
  }

  function trust(filter: QueryFilter, scope: QueryScope = {}, cursor?: string): AnswerCheck {
    return {
      keys: {
        networkId: toHex(networkId),
        version: 0,
        versionHash: toHex(networkId),
        quorum: 2,
        blsKeys: bls.map(blsPublicKey),
        ed25519Keys: new Map(signers.map((s) => [s.origin, s.publicKey])),
        vrfPublicKey: Uint8Array.from(Buffer.from(TEST_VRF_PUBLIC_KEY_HEX, 'hex')),
      },
      filter,
      scope,
      ...(cursor ? { cursor } : {}),
    }
  }

  return { open, append, cosign, answer, trust, signers, completenessAt, indexOf, networkJson }
}
