// Benchmark of the peer network (issue 3), three local nodes, each its own OS process as
// deployed (network-node.ts; a machine per node, here 2 cores shared by all three):
// propagation latency at a steady 1,000 events/s, sustained ingest at node 1 over HTTP
// while nodes 2 and 3 replicate, and the catch-up speed of a restarted node. hypercore's
// append and replication rates are measured in the same run as a reference. Each run uses
// a fresh network; each figure is the median of RUNS runs, the runs' values in its note.
import '../../node/shim.ts'
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNetwork } from '../in-process-network.ts'
import { benchHypercore } from './hypercore-reference.ts'
import { Cluster, GIVE_UP_MS } from './network-cluster.ts'
import { eventPoster, REQUEST_EVENTS, smallBodies } from './network-load.ts'
import { catchUp, IN_FLIGHT, propagationLatency, sustainedIngest } from './network-phases.ts'
import { type Figure, printFigures } from './report.ts'

const RUNS = Number(process.env.RUNS ?? 3)
const INGEST_SECONDS = Number(process.env.INGEST_SECONDS ?? 25)
const LATENCY_SECONDS = Number(process.env.LATENCY_SECONDS ?? 20)
const CATCH_UP_ENTRIES = Number(process.env.CATCH_UP_ENTRIES ?? 200_000)
const HYPERCORE_BLOCKS = Number(process.env.HYPERCORE_BLOCKS ?? 100_000)
/** Replicas "keep up" when they hold everything this soon after ingest stops. */
const CONVERGED_WITHIN_MS = 5_000

async function apiToken(dir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { apiToken: string })
    .apiToken
}

/** One run on a fresh three-node network, then hypercore with the nodes stopped. */
async function runOnce(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-bench-net-'))
  let cluster: Cluster | undefined
  const onSignal = () => {
    void (async () => {
      await cluster?.stopAll()
      await rm(dir, { recursive: true, force: true })
      process.exit(130)
    })()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const { dirs, membership } = await initNetwork(join(dir, 'net'), 3)
    const c = new Cluster(
      dirs,
      membership.members.map((m) => m.name),
      dir,
    )
    cluster = c
    await Promise.all([0, 1, 2].map((i) => c.start(i)))
    const posts = await Promise.all(
      [0, 1].map(async (i) => eventPoster(c.node(i).http, await apiToken(dirs[i]!))),
    )
    // Ready when an event reached all three (the nodes dial each other at start).
    await posts[0]!(smallBodies(1)[0]!)
    if ((await c.timeToConverge()) >= GIVE_UP_MS) throw new Error('first event did not spread')
    const load = loadavg()[0]!
    const latency = await propagationLatency(c, posts[0]!, LATENCY_SECONDS)
    const http = await sustainedIngest(c, posts[0]!, INGEST_SECONDS)
    const catchUpRun = await catchUp(c, posts, CATCH_UP_ENTRIES)
    const rss = await Promise.all([0, 1, 2].map(async (i) => (await c.node(i).usage()).rssBytes))
    const unhandled = c.unhandled.length
    await c.stopAll()
    const hypercore = await benchHypercore(HYPERCORE_BLOCKS)
    const result = {
      load,
      loadEnd: loadavg()[0]!,
      peakRssMiB: Math.max(...rss) / 2 ** 20,
      unhandled,
      ...prefixed('latency', latency),
      ...prefixed('http', http),
      ...prefixed('catchUp', catchUpRun),
      ...prefixed('hypercore', hypercore),
    }
    console.error(JSON.stringify({ run: result, unhandled: c.unhandled }))
    return result
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await cluster?.stopAll()
    // KEEP_LOGS=DIR keeps the nodes' logs of the last run there (diagnosis).
    if (process.env.KEEP_LOGS)
      await cp(dir, process.env.KEEP_LOGS, { recursive: true, filter: (f) => !f.includes('/net/') })
    await rm(dir, { recursive: true, force: true })
  }
}

function prefixed(prefix: string, values: object): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${prefix}.${k}`, v as number]))
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export async function benchNetwork(): Promise<Figure[]> {
  const runs: Array<Record<string, number>> = []
  for (let r = 0; r < RUNS; r++) runs.push(await runOnce())
  const m = (key: string) => median(runs.map((run) => run[key]!))
  const each = (key: string, digits = 0) =>
    `runs: ${runs.map((run) => run[key]!.toFixed(digits)).join(', ')}`
  /** A figure: the median of `key` over the runs, every run's value in the note. */
  const fig = (name: string, key: string, unit: string, more: Partial<Figure> = {}): Figure => ({
    name,
    value: m(key),
    unit,
    ...more,
    note: `${more.note ? `${more.note}; ` : ''}${each(key, m(key) < 100 ? 1 : 0)}`,
  })
  const converged = runs.every((run) => run['http.convergeMs']! <= CONVERGED_WITHIN_MS)
  return [
    fig('sustained ingest at node 1, HTTP POSTs', 'http.perSecond', 'events/s', {
      target: '>= 10,000, replicas converging',
      meets: m('http.perSecond') >= 10_000 && converged,
      note: `${INGEST_SECONDS} s, ${IN_FLIGHT}x${REQUEST_EVENTS} events in flight; cores used by nodes 1/2/3 ${runs.map((r) => [1, 2, 3].map((i) => r[`http.cores${i}`]!.toFixed(2)).join('/')).join(', ')}`,
    }),
    fig('  replica lag when ingest stops', 'http.endLag', 'entries', {
      note: `max during the run ${each('http.maxLag')}`,
    }),
    fig('  time for nodes 2, 3 to converge', 'http.convergeMs', 'ms', {
      target: `<= ${CONVERGED_WITHIN_MS} ms`,
      meets: converged,
    }),
    fig('  held by all 3 nodes', 'http.replicatedPerSecond', 'events/s', {
      note: 'events / (ingest time + time to converge)',
    }),
    fig('  CPU per event, all 3 nodes', 'http.cpuPerEventUs', 'µs', {
      note: `node 1 ${each('http.cpuPerEventUs1')}; node 2 ${each('http.cpuPerEventUs2')}; node 3 ${each('http.cpuPerEventUs3')}; the HTTP client ${each('http.driverCpuPerEventUs', 1)}`,
    }),
    fig('propagation p50 at 1,000 events/s', 'latency.p50', 'ms', {
      note: "node 1's 201 at the client -> stored at nodes 2 and 3",
    }),
    fig('propagation p99 at 1,000 events/s', 'latency.p99', 'ms', {
      target: '< 100 ms',
      meets: m('latency.p99') < 100,
      note: `max ${each('latency.max', 1)}; min ${each('latency.min', 1)}; ${m('latency.samples')} samples a run`,
    }),
    fig('  POST sent -> stored at nodes 2 and 3, p99', 'latency.endToEndP99', 'ms'),
    fig('  POST sent -> 201 from node 1, p99', 'latency.durableP99', 'ms', {
      note: `offered ${each('latency.offeredPerSecond')} events/s`,
    }),
    fig('  event-loop delay at node 2, p99', 'latency.loopDelayP99Node2', 'ms', {
      note: `max node 2 ${each('latency.loopDelayMaxNode2', 1)}; node 3 ${each('latency.loopDelayMaxNode3', 1)}`,
    }),
    fig('catch-up of a restarted node, from its process start', 'catchUp.perSecond', 'entries/s', {
      target: '>= 30,000',
      meets: m('catchUp.perSecond') >= 30_000,
      note: `${m('catchUp.missing')} entries missing; spawn to serving ${each('catchUp.startedMs')} ms (start() ${each('catchUp.startInNodeMs')} ms)`,
    }),
    fig('  catch-up, from start() (modules loaded)', 'catchUp.fromStartPerSecond', 'entries/s'),
    fig('  catch-up, after it serves', 'catchUp.pullPerSecond', 'entries/s'),
    fig('  CPU per entry caught up, node 3', 'catchUp.cpuPerEntryUs3', 'µs', {
      note: `process start included; cores ${each('catchUp.cores3', 2)}; responders node 1 ${each('catchUp.cpuPerEntryUs1', 1)}, node 2 ${each('catchUp.cpuPerEntryUs2', 1)} µs`,
    }),
    fig(
      'hypercore (reference): append, batches of 1,000',
      'hypercore.appendPerSecond',
      'blocks/s',
      { note: `${HYPERCORE_BLOCKS} blocks of 300 B` },
    ),
    fig(
      'hypercore (reference): replication, in-process',
      'hypercore.replicatePerSecond',
      'entries/s',
    ),
    fig(
      'hypercore (reference): CPU per entry replicated',
      'hypercore.replicateCpuPerBlockUs',
      'µs',
    ),
    fig('peak RSS of one node process', 'peakRssMiB', 'MiB'),
    fig('unhandled rejections in the nodes', 'unhandled', '', {
      target: '0',
      meets: m('unhandled') === 0,
    }),
    fig('load average (1 min) at start of a run', 'load', '', {
      note: `2 cores; at the end ${each('loadEnd', 2)}`,
    }),
  ]
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/network\.(ts|mjs)$/)) {
  printFigures('peer network, 3 local nodes', await benchNetwork())
}
