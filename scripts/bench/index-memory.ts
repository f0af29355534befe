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
import { getHeapSpaceStatistics } from 'node:v8'
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
  /**
   * How long to wait before the baseline and the settled reading: jemalloc gives freed pages
   * back after ~1 s (bin/relaunch.js), V8 shrinks its young generation after ~8 s idle.
   */
  settleMs: number
}

export interface MemorySample {
  baselineRssMiB: number
  /** RSS added (all, then anonymous only), right after the build and 3 s later. */
  atOnceRssMiB: number
  threeSecondsRssMiB: number
  threeSecondsAnonMiB: number
  /** RSS added after `settleMs` (what a started node keeps): all, anonymous, mapped files. */
  settledRssMiB: number
  settledAnonMiB: number
  settledFileMiB: number
  /** V8's young generation as committed after the build, at 3 s and settled. */
  newSpaceMiB: { atOnce: number; settled: number }
  /** Live V8 heap + buffers outside it, settled minus baseline. */
  liveMiB: number
  /** The service's typed arrays (without the trees). */
  arrayMiB: number
  buildMs: number
}

const MiB = 2 ** 20
const hex = (s: string) => fromHex(s) as Uint8Array
const gc = (globalThis as { gc?: () => void }).gc

interface Reading {
  rss: number
  live: number
  anon: number
  file: number
  newSpace: number
}

/** After two full collections: RSS, anonymous and file-backed RSS, live data, young generation. */
function reading(): Reading {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  const status = readFileSync('/proc/self/status', 'utf8')
  const kib = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0)
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  return {
    rss: m.rss / MiB,
    live: (m.heapUsed + m.external) / MiB,
    anon: kib('RssAnon') / 1024,
    file: kib('RssFile') / 1024,
    newSpace: (young?.space_size ?? 0) / MiB,
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
    membership: { version: 0, hash: new Uint8Array(32) },
    timeMs: spec.checkpoint.timeMs,
    feeds: spec.checkpoint.feeds.map((f) => ({
      origin: f.origin,
      treeSize: f.treeSize,
      root: hex(f.root),
      indexRoot: hex(f.indexRoot),
    })),
  }
  // The baseline settled too: V8 shrinks its young generation (grown by the store's open)
  // only once the process has been idle for a while (its memory reducer, ~8 s).
  await sleep(spec.settleMs)
  const before = reading()
  const t0 = performance.now()
  const service = await IndexService.open(store, hex(spec.vrfKey), { checkpoint })
  const buildMs = performance.now() - t0
  const atOnce = reading()
  await sleep(3000)
  const three = reading()
  await sleep(Math.max(0, spec.settleMs - 3000))
  const after = reading()
  const result: MemorySample = {
    baselineRssMiB: before.rss,
    atOnceRssMiB: atOnce.rss - before.rss,
    threeSecondsRssMiB: three.rss - before.rss,
    threeSecondsAnonMiB: three.anon - before.anon,
    settledRssMiB: after.rss - before.rss,
    settledAnonMiB: after.anon - before.anon,
    settledFileMiB: after.file - before.file,
    newSpaceMiB: { atOnce: atOnce.newSpace, settled: after.newSpace },
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
