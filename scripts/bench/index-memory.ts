// One sample of the index's resident memory, in a process of its own (forked by
// index-service.ts): opens a store the benchmark built, lets it settle, reads RSS after full
// collections, builds the index as a node does at start (IndexService.open at the newest
// checkpoint), and reads RSS again at once and after it settled. A fresh process per sample,
// so no earlier phase of the benchmark (3M appends) leaves its heap or allocator high-water
// mark in the figure; the parent forks several and reports min / median / max.
// `node --expose-gc --import tsx scripts/bench/index-memory.ts SPEC.json`, with the
// allocator a node runs on (bin/relaunch.js's nodeProcessEnv).
import '../../node/shim.ts'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Checkpoint } from '../../node/core/checkpoint.ts'
import { fromHex } from '../../node/core/hex.ts'
import { IndexService } from '../../node/index/index.ts'
import { LogStore } from '../../node/store/index.ts'

/** What the parent hands over (hex strings): the store's folder and keys, the cut. */
export interface MemorySpec {
  path: string
  valueKey: string
  indexKey: string
  vrfKey: string
  /** origin → Ed25519 public key. */
  originKeys: Record<string, string>
  checkpoint: {
    timeMs: number
    feeds: Array<{ origin: string; treeSize: number; root: string; indexRoot: string }>
  }
  /** How long to wait before each settled reading (jemalloc gives pages back after ~1 s). */
  settleMs: number
}

export interface MemorySample {
  baselineRssMiB: number
  atOnceRssMiB: number
  settledRssMiB: number
  /** Of the settled RSS added: anonymous memory (heap, arrays, allocator) and mapped files. */
  settledAnonMiB: number
  settledFileMiB: number
  /** V8's heap as committed (heapTotal), settled minus baseline. */
  heapTotalMiB: number
  /** Live V8 heap + buffers outside it, settled minus baseline. */
  liveMiB: number
  /** The service's typed arrays (without the trees). */
  arrayMiB: number
  buildMs: number
}

const MiB = 2 ** 20
const hex = (s: string) => fromHex(s) as Uint8Array
const gc = (globalThis as { gc?: () => void }).gc

function reading(): { rss: number; live: number; anon: number; file: number; heap: number } {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  const status = readFileSync('/proc/self/status', 'utf8')
  const kib = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0)
  return {
    rss: m.rss / MiB,
    heap: m.heapTotal / MiB,
    live: (m.heapUsed + m.external) / MiB,
    anon: kib('RssAnon') / 1024,
    file: kib('RssFile') / 1024,
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function sample(spec: MemorySpec): Promise<MemorySample> {
  if (!gc) throw new Error('index-memory.ts needs --expose-gc')
  const originKeys = new Map(Object.entries(spec.originKeys).map(([o, k]) => [o, hex(k)]))
  const store = new LogStore({
    path: spec.path,
    keys: { valueKey: hex(spec.valueKey), indexKey: hex(spec.indexKey) },
    originKey: (o) => originKeys.get(o),
    sync: false,
  })
  await store.open()
  const checkpoint: Checkpoint = {
    networkId: new Uint8Array(32),
    timeMs: spec.checkpoint.timeMs,
    feeds: spec.checkpoint.feeds.map((f) => ({
      origin: f.origin,
      treeSize: f.treeSize,
      root: hex(f.root),
      indexRoot: hex(f.indexRoot),
    })),
  }
  await sleep(spec.settleMs)
  const before = reading()
  const t0 = performance.now()
  const service = await IndexService.open(store, hex(spec.vrfKey), { checkpoint })
  const buildMs = performance.now() - t0
  const atOnce = reading()
  await sleep(spec.settleMs)
  const after = reading()
  const result: MemorySample = {
    baselineRssMiB: before.rss,
    atOnceRssMiB: atOnce.rss - before.rss,
    settledRssMiB: after.rss - before.rss,
    settledAnonMiB: after.anon - before.anon,
    settledFileMiB: after.file - before.file,
    heapTotalMiB: after.heap - before.heap,
    liveMiB: after.live - before.live,
    arrayMiB: service.arrayBytes / MiB,
    buildMs,
  }
  await service.close()
  await store.close()
  return result
}

if (process.argv[1]?.match(/index-memory\.(ts|mjs)$/)) {
  const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as MemorySpec
  const result = await sample(spec)
  process.send?.(result)
  console.log(JSON.stringify(result))
  // The parent waits for the exit, which also ends the VRF thread's handle.
  process.exit(0)
}
