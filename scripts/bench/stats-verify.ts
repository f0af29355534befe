// Verifying a statistics bundle the ways a reader does (issue 18: "under 2 s in the CLI, under
// 5 s in the browser"): 16 hospitals × the table's counters, 9 of 16 members' shares, each
// hospital anchored into one checkpoint cosigned by a quorum (stats-fixture.ts); the same
// bundle with its key anchors too (16 dkg-key and 16 dkg-dealing entries, as a running
// combiner adds them).
//
//   - in this process: verifyStatsBundle, with and without the anchors' cosignature check
//   - the CLI: the real `ehrlog stats verify FILE --network network.json --key HEX --period P`
//     process, wall time from spawn to exit (Node start, loading the CLI, reading network.json
//     with its 16 BLS proofs of possession, verifying); with key anchors, `--network` without
//     `--key` (the key derived from them, as an outsider checks); `ehrlog --version` is the floor
//   - headless Chromium: the /stats page's check (stats-browser.ts)
//
// STATS_BEFORE=DIR (a copy of an older tree: bin/, dist/, node/, client/, node_modules) runs
// the CLI and the browser check of that tree too, interleaved with this one's, for a
// before/after under the same load.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { toHex } from '../../node/core/hex.ts'
import {
  COUNTER_COUNT,
  encodeStatsBundle,
  publicKeyOf,
  verifyStatsBundle,
} from '../../node/core/stats/index.ts'
import { verifyCheckpoint } from '../../node/core/trust/index.ts'
import { sourceUrl } from '../../node/threads/source-root.ts'
import type { Figure } from './report.ts'
import { verifyStatsInChromium } from './stats-browser.ts'
import { anchoredStatsFixture } from './stats-fixture.ts'

const RUNS = Number(process.env.STATS_VERIFY_RUNS ?? 3)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function runs(xs: number[]): string {
  return `runs ${xs.map((t) => t.toFixed(0)).join(', ')} ms`
}

const TIME = '/usr/bin/time'

/**
 * Wall time of one CLI process, spawn to exit, and its CPU time (user + system, from GNU
 * time when installed: steadier than wall time on a shared machine); throws if it fails.
 */
function timeCli(
  root: string,
  args: string[],
  configDir: string,
): Promise<{ wall: number; cpu?: number }> {
  const start = performance.now()
  const command = [process.execPath, join(root, 'bin', 'ehrlog.js'), ...args]
  const timed = existsSync(TIME)
  return new Promise((resolve, reject) => {
    const child = spawn(
      timed ? TIME : command[0]!,
      timed ? ['-f', 'cpu %U %S', ...command] : command.slice(1),
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, EHRLOG_JEMALLOC: '0', EHRLOG_CONFIG_DIR: configDir },
      },
    )
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      const wall = performance.now() - start
      const cpu = /cpu ([0-9.]+) ([0-9.]+)\s*$/.exec(err)
      if (code === 0)
        resolve({ wall, ...(cpu ? { cpu: (Number(cpu[1]) + Number(cpu[2])) * 1000 } : {}) })
      else reject(new Error(`ehrlog ${args.join(' ')} (${root}) exited ${code}: ${err}`))
    })
  })
}

export async function benchStatsVerify(): Promise<Figure[]> {
  const figures: Figure[] = []
  const made = performance.now()
  const f = await anchoredStatsFixture({ members: 16 })
  const bytes = encodeStatsBundle(f.bundle)
  const withKeyAnchors = encodeStatsBundle({ ...f.bundle, keyAnchors: f.keyAnchors })
  const key = publicKeyOf(f.key).toBytes()
  const withCheckpoints = {
    period: f.period,
    publicKey: key,
    requireAnchors: true,
    checkCheckpoint: (c: Parameters<typeof verifyCheckpoint>[1]) =>
      void verifyCheckpoint(f.membership, c),
  }
  figures.push({
    name: `anchored bundle: 16 hospitals × ${COUNTER_COUNT} counters, 9 shares, one cosigned checkpoint`,
    value: bytes.length,
    unit: 'bytes',
    note: `fixture made in ${((performance.now() - made) / 1000).toFixed(0)} s (not a figure)`,
  })
  figures.push({
    name: 'the same with its key anchors (16 dkg-key and 16 dkg-dealing entries anchored)',
    value: withKeyAnchors.length,
    unit: 'bytes',
  })
  verifyStatsBundle(bytes, withCheckpoints) // warm-up
  const inProcess = Array.from({ length: RUNS }, () => {
    const t = performance.now()
    verifyStatsBundle(bytes, withCheckpoints)
    return performance.now() - t
  })
  figures.push({
    name: 'verify it in this process (anchors, cosignatures, shares, totals; warm)',
    value: median(inProcess),
    unit: 'ms',
    note: runs(inProcess),
  })
  const { publicKey: _pinned, ...unpinned } = withCheckpoints
  const keyAnchored = { ...unpinned, requireKeyAnchors: true }
  verifyStatsBundle(withKeyAnchors, keyAnchored) // warm-up
  const inProcessKeyed = Array.from({ length: RUNS }, () => {
    const t = performance.now()
    verifyStatsBundle(withKeyAnchors, keyAnchored)
    return performance.now() - t
  })
  figures.push({
    name: 'verify it with key anchors in this process (key derived from them; warm)',
    value: median(inProcessKeyed),
    unit: 'ms',
    note: runs(inProcessKeyed),
  })

  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-bench-verify-'))
  try {
    await writeFile(join(dir, 'network.json'), f.networkJson)
    await writeFile(join(dir, 'bundle.stats'), bytes)
    await writeFile(join(dir, 'keyed.stats'), withKeyAnchors)
    const keyedArgs = [
      'stats',
      'verify',
      join(dir, 'keyed.stats'),
      '--network',
      join(dir, 'network.json'),
      '--period',
      f.period,
      '--json',
    ]
    const args = [
      'stats',
      'verify',
      join(dir, 'bundle.stats'),
      '--network',
      join(dir, 'network.json'),
      '--key',
      toHex(key),
      '--period',
      f.period,
      '--json',
    ]
    const here = fileURLToPath(sourceUrl(''))
    const before = process.env.STATS_BEFORE
    const trees: Array<[string, string]> = [['after', here]]
    if (before && existsSync(join(before, 'bin', 'ehrlog.js'))) trees.unshift(['before', before])
    type Timed = { wall: number; cpu?: number }
    const cli = new Map<string, Timed[]>(trees.map(([label]) => [label, []]))
    const floor: Timed[] = []
    const keyed: Timed[] = []
    const keyedCold: Timed[] = []
    // The CLI remembers verified BLS proofs of possession in its config folder: one folder
    // kept across runs (the first run fills it), and for the cold figure a new one each run.
    const config = join(dir, 'config')
    for (let r = 0; r < RUNS; r++) {
      for (const [label, root] of trees) cli.get(label)!.push(await timeCli(root, args, config))
      keyedCold.push(await timeCli(here, keyedArgs, join(dir, `config-cold-${r}`)))
      keyed.push(await timeCli(here, keyedArgs, config))
      floor.push(await timeCli(here, ['--version'], config))
    }
    const cpuNote = (xs: Timed[]) =>
      xs.every((x) => x.cpu !== undefined)
        ? `; CPU (user + sys) median ${median(xs.map((x) => x.cpu!)).toFixed(0)} ms, ${runs(xs.map((x) => x.cpu!))}`
        : ''
    for (const [label] of trees) {
      const xs = cli.get(label)!
      const ms = median(xs.map((x) => x.wall))
      figures.push({
        name: `CLI \`ehrlog stats verify\` with --network, wall time incl. process start (${label})`,
        value: ms,
        unit: 'ms',
        target: '< 2000',
        meets: ms < 2000,
        note: `wall ${runs(xs.map((x) => x.wall))}${cpuNote(xs)}`,
      })
    }
    const keyedMs = median(keyed.map((x) => x.wall))
    figures.push({
      name: 'CLI `ehrlog stats verify` of the bundle with key anchors, --network without --key',
      value: keyedMs,
      unit: 'ms',
      target: '< 2000',
      meets: keyedMs < 2000,
      note: `wall ${runs(keyed.map((x) => x.wall))}${cpuNote(keyed)}`,
    })
    const coldMs = median(keyedCold.map((x) => x.wall))
    figures.push({
      name: 'the same, first run with an empty config folder (every proof of possession verified)',
      value: coldMs,
      unit: 'ms',
      target: '< 2000',
      meets: coldMs < 2000,
      note: `wall ${runs(keyedCold.map((x) => x.wall))}${cpuNote(keyedCold)}`,
    })
    figures.push({
      name: 'CLI `ehrlog --version` (process start and loading the CLI: the floor)',
      value: median(floor.map((x) => x.wall)),
      unit: 'ms',
      note: `wall ${runs(floor.map((x) => x.wall))}${cpuNote(floor)}`,
    })

    for (const [label, root] of trees) {
      let entry: string | undefined
      if (label === 'before') {
        // The same page script, bundled from the older tree's sources.
        entry = join(root, 'scripts', 'bench', 'stats-browser-entry.ts')
        await mkdir(join(root, 'scripts', 'bench'), { recursive: true })
        await cp(join(here, 'scripts', 'bench', 'stats-browser-entry.ts'), entry)
      }
      const browser = await verifyStatsInChromium(bytes, RUNS + 1, entry)
      if (!browser) break
      const warm = browser.slice(1)
      const ms = median(warm)
      figures.push({
        name: `verify it in headless Chromium, the /stats page's check, anchors unchecked (${label})`,
        value: ms,
        unit: 'ms',
        target: '< 5000',
        meets: ms < 5000,
        note: `first run ${browser[0]!.toFixed(0)} ms (JIT warm-up), then ${runs(warm)}`,
      })
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return figures
}
