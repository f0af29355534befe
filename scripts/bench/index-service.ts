// Per-patient index in the store (issue 15): ingest with and without the index in the same
// run, rebuild from the postings, added memory, a checkpoint round's index work, and proofs
// served at the committed cut. ENTRIES (default 1,000,000) over 3 origins, PATIENTS (default
// 100,000), every batch of 1,000 a different patient each (the postings' worst case). Part of
// `npm run bench` (scripts/bench/index.ts); alone: `node --expose-gc --import tsx
// scripts/bench/index-service.ts` (without --expose-gc the memory figures include garbage).
//
// The VRF outputs are pre-seeded in the beta cache as random bytes: 100,000 real ones cost
// ~100,000 × 5 ms = ~8 minutes of the VRF thread, once per patient ever (index-core.ts has
// that figure). Everything else (hook, postings, hashing, tree, proofs) runs as in a node;
// the roots are then not the network's, which nothing here compares. PROFILE_REBUILD=file
// writes a CPU profile (.cpuprofile) of the rebuild alone.
import '../../node/shim.ts'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { relaunch, thresholdUnset } from '../../bin/relaunch.js'
import type { Checkpoint } from '../../node/core/checkpoint.ts'
import { type AuditEvent, parseEvent } from '../../node/core/event.ts'
import { encodeCompletenessProof } from '../../node/core/index/index.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { IndexService } from '../../node/index/index.ts'
import { LogStore, type Signer } from '../../node/store/index.ts'
import { type Figure, printFigures } from './report.ts'

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000)
const PATIENTS = Number(process.env.PATIENTS ?? 100_000)
const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']
const BATCH = 1000
/** A full collection for the memory figures, also without --expose-gc (as in `npm run bench`). */
const gc: (() => void) | undefined =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc')
    return runInNewContext('gc') as () => void
  })()

function event(i: number, patient: number): AuditEvent {
  return parseEvent({
    patientId: `patient-${patient}`,
    patientName: `patient_name_${patient}`,
    actorId: `staff-${i % 400}`,
    action: (['read', 'update', 'create', 'print'] as const)[i % 4],
    detail: 'prescription',
    resource: 'user_prescriptions',
    time: new Date(Date.UTC(2023, 11, 4) + i * 1000).toISOString(),
    notes: `Doctor added a new prescription, entry ${i}`,
  })
}

/** Batch b: 1,000 distinct patients (b * 1000 + j mod PATIENTS), validated once up front per pool slot. */
function pool(): AuditEvent[][] {
  return Array.from({ length: PATIENTS / BATCH }, (_, b) =>
    Array.from({ length: BATCH }, (_, j) => event(b * BATCH + j, (b * BATCH + j) % PATIENTS)),
  )
}

async function ingest(
  store: LogStore,
  signers: Signer[],
  batches: AuditEvent[][],
  entries = ENTRIES,
): Promise<number> {
  const t0 = performance.now()
  let inFlight: Promise<unknown> = Promise.resolve()
  for (let done = 0, b = 0; done < entries; done += BATCH, b++) {
    const write = store.appendEvents(signers[b % signers.length]!, batches[b % batches.length]!)
    await inFlight
    inFlight = write
  }
  await inFlight
  return entries / ((performance.now() - t0) / 1000)
}

/** RSS and live data (V8 heap + buffers outside it) after full collections, MiB. */
function memory(): { rss: number; live: number } {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss / 2 ** 20, live: (m.heapUsed + m.external) / 2 ** 20 }
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!
}

/**
 * A checkpoint at the store's sizes with the index roots given (as a round's quorum computes
 * them): a commit whose root differs from the cut's makes the service rebuild the origin.
 */
function checkpointOf(store: LogStore, timeMs: number, indexRoots: Uint8Array[]): Checkpoint {
  return {
    networkId: new Uint8Array(32),
    membership: { version: 0, hash: new Uint8Array(32) },
    timeMs,
    feeds: ORIGINS.map((origin, i) => ({
      origin,
      treeSize: store.size(origin),
      root: new Uint8Array(32),
      indexRoot: indexRoots[i]!,
    })),
  }
}

export async function benchIndexService(): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-bench-index-'))
  const keys = { valueKey: randomBytes(32), indexKey: randomBytes(32) }
  const signers = ORIGINS.map((origin) => ({
    origin,
    privateKey: generateKeyPairSync('ed25519').privateKey,
  }))
  const publicKeys = new Map(signers.map((s) => [s.origin, ed25519RawPublicKey(s.privateKey)]))
  const open = (name: string) =>
    new LogStore({ path: join(dir, name), keys, originKey: (o) => publicKeys.get(o), sync: false })
  const vrfKey = randomBytes(32)
  const loads: number[][] = [loadavg()]
  const figures: Figure[] = []
  try {
    const batches = pool()
    // Today's ingest, then the same with the index following, in this run.
    // A warm-up run first, so that neither measured run pays for JIT and page cache alone.
    const warm = open('warm')
    await warm.open()
    await ingest(warm, signers, batches, Math.min(ENTRIES, 100_000))
    await warm.close()
    const plain = open('plain')
    await plain.open()
    const plainRate = await ingest(plain, signers, batches)
    await plain.close()
    loads.push(loadavg())

    let store = open('indexed')
    await store.open()
    const seeded: Array<[Uint8Array, Uint8Array]> = []
    for (let p = 0; p < PATIENTS; p++)
      seeded.push([store.patientIndex.blind(`patient-${p}`), randomBytes(64)])
    for (let i = 0; i < seeded.length; i += 10_000)
      await store.patientIndex.putBetas(seeded.slice(i, i + 10_000))
    let service: IndexService = await IndexService.open(store, vrfKey)
    const indexedRate = await ingest(store, signers, batches)
    loads.push(loadavg())
    figures.push(
      { name: 'ingest, no index (today)', value: plainRate, unit: 'events/s' },
      {
        name: 'ingest with the index following',
        value: indexedRate,
        unit: 'events/s',
        target: `>= 90 % of ${Math.round(plainRate)}`,
        meets: indexedRate >= 0.9 * plainRate,
      },
    )
    // First commit of everything (the first checkpoint after ingest): the overlay becomes the tree.
    let t = performance.now()
    const firstRoots = await Promise.all(ORIGINS.map((o) => service.rootAt(o, store.size(o))))
    let c = checkpointOf(store, 1, firstRoots)
    const firstRootMs = performance.now() - t
    t = performance.now()
    await service.commit(c)
    const firstCommitMs = performance.now() - t
    figures.push({
      name: `first root + commit over ${ENTRIES} entries`,
      value: firstRootMs + firstCommitMs,
      unit: 'ms',
    })
    await service.close()
    // The closed service must not count in the memory baseline below.
    service = undefined as unknown as IndexService
    await store.close()

    // Rebuild from the postings (as at every start), memory added by the index.
    store = open('indexed')
    await store.open()
    // The baseline settled too: the ingest's freed pages are given back first (see below).
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const before = memory()
    let progressCalls = 0
    const profiler = process.env.PROFILE_REBUILD ? new Session() : undefined
    if (profiler) {
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.start')
    }
    t = performance.now()
    service = await IndexService.open(store, vrfKey, {
      checkpoint: c,
      onProgress: () => progressCalls++,
    })
    const rebuildS = (performance.now() - t) / 1000
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop')
      await writeFile(process.env.PROFILE_REBUILD!, JSON.stringify(profile))
      profiler.disconnect()
    }
    const atOnce = memory()
    // The bench runs on jemalloc (bin/relaunch.js: dirty_decay_ms 1000, a background thread),
    // which gives freed pages back after ~1 s: the build's garbage is in `atOnce`, not in the
    // steady state a started node runs in. Both are reported.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const after = memory()
    const added = after.rss - before.rss
    const live = after.live - before.live
    loads.push(loadavg())
    figures.push(
      {
        name: `rebuild from postings (${progressCalls} progress calls)`,
        value: ENTRIES / rebuildS,
        unit: 'entries/s',
        target: '>= 100,000',
        meets: ENTRIES / rebuildS >= 100_000,
      },
      {
        name: 'VRF calls in the rebuild',
        value: service.vrfCalls,
        unit: '',
        target: '0',
        meets: service.vrfCalls === 0,
      },
      {
        name: `added RSS, ${ENTRIES} entries / ${PATIENTS} patients / 3 origins`,
        value: added,
        unit: `MiB 3 s after the build (${(atOnce.rss - before.rss).toFixed(1)} MiB at once; live heap + buffers ${live.toFixed(1)} MiB, of it the service's typed arrays ${(service.arrayBytes / 2 ** 20).toFixed(1)} MiB without the trees)`,
        target: '< 64',
        meets: added < 64 && live < 64,
      },
    )

    // Checkpoint rounds: 1,000 new entries per origin, then rootAt of each origin and commit.
    const rounds: number[] = []
    for (let r = 0; r < 20; r++) {
      for (const s of signers)
        await store.appendEvents(s, batches[(r * 3 + signers.indexOf(s)) % batches.length]!)
      const round = performance.now()
      const roots = await Promise.all(ORIGINS.map((o) => service.rootAt(o, store.size(o))))
      c = checkpointOf(store, 2 + r, roots)
      await service.commit(c)
      rounds.push(performance.now() - round)
    }
    figures.push({
      name: 'checkpoint round, index part (3 rootAt + commit), p99',
      value: p99(rounds),
      unit: 'ms',
      target: '< 1,000',
      meets: p99(rounds) < 1000,
    })

    // A 100-entry trail, then proofs at the committed cut.
    const trail = 'patient-trail'
    for (let k = 0; k < 100; k++) {
      const s = signers[k % 3]!
      await store.appendEvents(s, [{ ...event(k, 0), patientId: trail }])
    }
    c = checkpointOf(
      store,
      100,
      await Promise.all(ORIGINS.map((o) => service.rootAt(o, store.size(o)))),
    )
    await service.commit(c)
    const first = performance.now()
    const proof = await service.prove(trail, c)
    const firstProofMs = performance.now() - first
    const proofMs: number[] = []
    for (let k = 0; k < 200; k++) {
      const s = performance.now()
      await service.prove(trail, c)
      proofMs.push(performance.now() - s)
    }
    const bytes = encodeCompletenessProof(proof).length
    figures.push(
      {
        name: 'prove a 100-entry trail, first (VRF proof computed)',
        value: firstProofMs,
        unit: 'ms',
      },
      {
        name: 'prove a 100-entry trail, p99 (VRF proof cached)',
        value: p99(proofMs),
        unit: 'ms',
        target: '< 50',
        meets: p99(proofMs) < 50,
      },
      {
        name: 'proof size per origin',
        value: bytes / 3,
        unit: 'bytes',
        target: '< 8,192',
        meets: bytes / 3 < 8192,
      },
    )
    t = performance.now()
    const differed = await service.check()
    figures.push({
      name: `check() (recompute and compare; ${differed.length} differed)`,
      value: performance.now() - t,
      unit: 'ms',
    })
    loads.push(loadavg())
    await service.close()
    await store.close()
    figures.push({
      name: 'load averages (1/5/15 min) at start, after phases',
      value: 0,
      unit: loads.map((l) => l.map((x) => x.toFixed(1)).join('/')).join(', '),
    })
    return figures
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// Run alone (not from the bench bundle, whose import.meta.url is dist/bench/index.mjs).
if (process.argv[1]?.endsWith('index-service.ts')) {
  if (thresholdUnset()) process.exit(await relaunch())
  printFigures('per-patient index in the store', await benchIndexService())
}
