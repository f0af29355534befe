// Seeds the stores of a fresh three-node network (`ehrlog network init` folders) with ENTRIES
// event entries over the three feeds, as if the network had run for a while, without the
// network: each feed is appended in its own node's store (LogStore.appendEvents, signed with
// that node's key), then copied batch by batch into the two other replicas with
// LogStore.acceptBatch (what sync does: every signature, root and body checked again). The
// three replicas then hold byte-identical feeds and the same patient postings (under each
// node's own blind-index key). The stores are encrypted under each node's own keys, so a
// folder cannot simply be copied.
//
// The index's VRF outputs are pre-seeded in each store's beta cache (`V`) as the same
// pseudorandom bytes per patient (SHA-512 of the id under a benchmark tag), not the network
// key's real outputs: 100,000 real ones cost ~100,000 × 5 ms of the VRF thread once per
// patient ever (performance.md, "Index core"). The three nodes therefore compute the same
// index roots, as they would with the real outputs; no completeness proof made here would
// verify under the network's VRF key, and none is checked.
import { createHash } from 'node:crypto'
import type { AuditEvent } from '../../node/core/event.ts'
import type { Membership } from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { storeOfNode } from '../../node/node-store.ts'
import type { LogStore } from '../../node/store/index.ts'
import { seedEvent } from './seed-events.ts'

const BATCH = 1000
/** Entries read per readBatches call when copying a feed to the other replicas. */
const COPY_CHUNK = 20_000

/** The patient of event i: visits of 8 events, PATIENTS patients scattered (7919 is prime). */
export function seedPatient(i: number, patients: number): string {
  return `patient-${(Math.floor(i / 8) * 7919) % patients}`
}

/** The benchmark's stand-in for beta(patient): the same bytes in every replica. */
export function benchBeta(patientId: string): Uint8Array {
  return new Uint8Array(
    createHash('sha512').update('ehrlog-bench-beta/v1\0').update(patientId).digest(),
  )
}

function batchOf(offset: number, patients: number): AuditEvent[] {
  return Array.from({ length: BATCH }, (_, j) =>
    seedEvent(offset + j, seedPatient(offset + j, patients)),
  )
}

/**
 * Appends `entries` events (batches of 1,000, dealt to the three feeds in turn) to the node
 * folders' stores, replicates every feed to every store, and caches the betas of patient-0 ..
 * patient-(patients - 1) in each. The folders' nodes must be stopped.
 */
export async function seedNetwork(
  dirs: readonly string[],
  membership: Membership,
  entries: number,
  patients: number,
  log: (line: string) => void = () => {},
): Promise<void> {
  const identities = await Promise.all(dirs.map((dir) => openNodeDir(dir)))
  const memberKeys = membership.ed25519Keys()
  const stores = identities.map((id) => storeOfNode(id, memberKeys))
  await Promise.all(stores.map((s) => s.open()))
  try {
    const t0 = performance.now()
    // Each feed in its own node's store, the three in parallel, one batch in flight each.
    await Promise.all(
      identities.map(async (id, k) => {
        const signer = { origin: id.config.name, privateKey: id.signingKey }
        let inFlight: Promise<unknown> = Promise.resolve()
        for (let offset = k * BATCH; offset < entries; offset += BATCH * identities.length) {
          const write = stores[k]!.appendEvents(signer, batchOf(offset, patients))
          await inFlight
          inFlight = write
        }
        await inFlight
      }),
    )
    log(`seeded ${entries} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    const t1 = performance.now()
    await Promise.all(
      identities.map((id, k) =>
        copyFeed(
          id.config.name,
          stores[k]!,
          stores.filter((_, j) => j !== k),
        ),
      ),
    )
    log(`replicated to the other 2 stores in ${((performance.now() - t1) / 1000).toFixed(1)} s`)
    const betas = Array.from({ length: patients }, (_, p) => `patient-${p}`)
    for (const store of stores) {
      for (let i = 0; i < betas.length; i += 10_000) {
        await store.patientIndex.putBetas(
          betas.slice(i, i + 10_000).map((id) => [store.patientIndex.blind(id), benchBeta(id)]),
        )
      }
    }
  } finally {
    await Promise.all(stores.map((s) => s.close()))
  }
}

/** Copies `origin`'s feed from `from` into each of `to`, batch by batch as signed. */
async function copyFeed(origin: string, from: LogStore, to: readonly LogStore[]): Promise<void> {
  const size = from.size(origin)
  for (let next = 1; next <= size; ) {
    const batches = await from.readBatches(origin, next, COPY_CHUNK)
    if (batches.length === 0) throw new Error(`no batch of ${origin} from seq ${next}`)
    for (const batch of batches) {
      const results = await Promise.all(to.map((store) => store.acceptBatch(batch)))
      for (const r of results) {
        if (r.status !== 'stored') throw new Error(`copy of ${origin}: ${JSON.stringify(r)}`)
      }
      next = batch.head.treeSize + 1
    }
  }
}
