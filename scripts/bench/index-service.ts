// Per-patient index in the store (issue 15): ingest with and without the index in the same
// run, rebuild from the postings, added memory, a checkpoint round's index work, and proofs
// served at the committed cut. ENTRIES (default 1,000,000) over 3 origins, PATIENTS (default
// 100,000), every batch of 1,000 a different patient each (the postings' worst case). Part of
// `npm run bench` (scripts/bench/index.ts); alone: `node --import tsx
// scripts/bench/index-service.ts`. The memory figures come from MEMORY_RUNS (default 3)
// fresh processes, one after the other, each building the index on the closed store
// (index-memory.ts): RSS added, split into anonymous memory (the index's) and mapped files
// (LevelDB's table files read by the postings scan), min / median / max over the processes.
// INDEX_KEEP_DIR=DIR leaves the stores there (with DIR/memory.json, index-memory.ts's input).
//
// The VRF outputs are pre-seeded in the beta cache as random bytes: 100,000 real ones cost
// ~100,000 × 5 ms = ~8 minutes of the VRF thread, once per patient ever (index-core.ts has
// that figure). Everything else (hook, postings, hashing, tree, proofs) runs as in a node;
// the roots are then not the network's, which nothing here compares. PROFILE_REBUILD=file
// writes a CPU profile (.cpuprofile) of the rebuild alone.
import '../../node/shim.ts'
import { fork } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeProcessEnv, relaunch, thresholdUnset } from '../../bin/relaunch.js'
import type { Checkpoint } from '../../node/core/checkpoint.ts'
import { type AuditEvent, parseEvent } from '../../node/core/event.ts'
import { toHex } from '../../node/core/hex.ts'
import { encodeCompletenessProof } from '../../node/core/index/index.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { IndexService } from '../../node/index/index.ts'
import { LogStore, type Signer } from '../../node/store/index.ts'
import { sourceUrl } from '../../node/threads/source-root.ts'
import type { MemorySample, MemorySpec } from './index-memory.ts'
import { type Figure, printFigures } from './report.ts'

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000)
const PATIENTS = Number(process.env.PATIENTS ?? 100_000)
const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']
const BATCH = 1000
/** Processes sampling the index's resident memory (index-memory.ts), one after the other. */
const MEMORY_RUNS = Number(process.env.MEMORY_RUNS ?? 3)
/** From the bench bundle (`npm run bench`) the sampler runs its bundle too; else the source. */
const BUNDLED = (globalThis as { EHRLOG_SOURCE_ROOT?: string }).EHRLOG_SOURCE_ROOT !== undefined
const MEMORY_SCRIPT = fileURLToPath(
  sourceUrl(BUNDLED ? 'dist/bench/index-memory.mjs' : 'scripts/bench/index-memory.ts'),
)
const MEMORY_LOADER = BUNDLED ? fileURLToPath(sourceUrl('dist/shim.mjs')) : 'tsx'
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

/** Forks index-memory.ts `runs` times on the closed store, one after the other. */
async function memorySamples(
  specFile: string,
  spec: MemorySpec,
  runs: number,
): Promise<MemorySample[]> {
  await writeFile(specFile, JSON.stringify(spec))
  const samples: MemorySample[] = []
  for (let r = 0; r < runs; r++) {
    const child = fork(MEMORY_SCRIPT, [specFile], {
      execArgv: ['--expose-gc', '--import', MEMORY_LOADER],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: nodeProcessEnv(),
    })
    const result = await new Promise<MemorySample>((resolve, reject) => {
      let got: MemorySample | undefined
      child.on('message', (m: MemorySample) => {
        got = m
      })
      child.once('exit', (code) =>
        got ? resolve(got) : reject(new Error(`index-memory.ts exited with ${code}`)),
      )
    })
    samples.push(result)
  }
  return samples
}

/** min / median / max, MiB. */
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  return `${s[0]!.toFixed(1)} / ${s[Math.floor(s.length / 2)]!.toFixed(1)} / ${s[s.length - 1]!.toFixed(1)}`
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
  // INDEX_KEEP_DIR=DIR: the stores and index-memory.ts's spec (DIR/memory.json) are left there.
  const keepDir = process.env.INDEX_KEEP_DIR
  const dir = keepDir ?? (await mkdtemp(join(tmpdir(), 'ehrlog-bench-index-')))
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

    // Memory added by the index, each sample in a fresh process (index-memory.ts).
    const spec: MemorySpec = {
      path: join(dir, 'indexed'),
      valueKey: toHex(keys.valueKey),
      indexKey: toHex(keys.indexKey),
      vrfKey: toHex(vrfKey),
      originKeys: Object.fromEntries([...publicKeys].map(([o, k]) => [o, toHex(k)])),
      checkpoint: {
        timeMs: c.timeMs,
        feeds: c.feeds.map((f) => ({
          origin: f.origin,
          treeSize: f.treeSize,
          root: toHex(f.root),
          indexRoot: toHex(f.indexRoot),
        })),
      },
      settleMs: 12_000,
    }
    const samples = await memorySamples(join(dir, 'memory.json'), spec, MEMORY_RUNS)
    loads.push(loadavg())
    const of = (f: (m: MemorySample) => number) => samples.map(f)
    const anon = of((m) => m.settledAnonMiB)
    figures.push(
      {
        name: `index's resident memory (anonymous RSS added), ${ENTRIES} entries / ${PATIENTS} patients / 3 origins, max of ${samples.length} processes`,
        value: Math.max(...anon),
        unit: `MiB 12 s after the build (min / median / max ${spread(anon)}; 3 s after ${spread(of((m) => m.threeSecondsAnonMiB))}; live heap + buffers ${spread(of((m) => m.liveMiB))}, of it the service's typed arrays ${samples[0]!.arrayMiB.toFixed(1)} without the trees; V8 young generation ${spread(of((m) => m.newSpaceMiB.atOnce))} MiB after the build, ${spread(of((m) => m.newSpaceMiB.settled))} settled)`,
        target: '< 64 in every sample',
        meets: Math.max(...anon) < 64,
      },
      {
        name: '  RSS added, all (anonymous + LevelDB table files mapped by the postings scan)',
        value: Math.max(...of((m) => m.settledRssMiB)),
        unit: `MiB, max (min / median / max ${spread(of((m) => m.settledRssMiB))}; of it mapped files ${spread(of((m) => m.settledFileMiB))}; right after the build ${spread(of((m) => m.atOnceRssMiB))}, 3 s after ${spread(of((m) => m.threeSecondsRssMiB))})`,
        note: 'clean pages of the store files, reclaimable; a scrub maps every table anyway',
      },
    )

    // Rebuild from the postings (as at every start).
    store = open('indexed')
    await store.open()
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
    if (!keepDir) await rm(dir, { recursive: true, force: true })
  }
}

// Run alone (not from the bench bundle, whose import.meta.url is dist/bench/index.mjs).
if (process.argv[1]?.endsWith('index-service.ts')) {
  if (thresholdUnset()) process.exit(await relaunch())
  printFigures('per-patient index in the store', await benchIndexService())
}
