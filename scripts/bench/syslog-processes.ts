// The syslog benchmark (syslog.ts) with each node its own OS process, as deployed: one node
// per hospital machine. The nodes are network-node.ts processes (EhrlogNode with production
// defaults, real libp2p between them on 127.0.0.1, real LevelDB), started and watched over
// IPC by network-cluster.ts; the first listens for RFC 5425 syslog over TLS. The TLS senders
// run in this process. CPU per message is the sum over the 4 processes (every thread of each),
// read from the nodes' process.cpuUsage() over IPC; the rates are timed here from the first
// byte sent until the receiving node counts every message appended (durable), until all 3
// hold them, and until every node's index roots at the sizes it holds are computed (every
// beta known: a checkpoint can cut there).
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNetwork } from '../in-process-network.ts'
import { Cluster, sleep } from './network-cluster.ts'
import type { Figure } from './report.ts'
import {
  configureReceiver,
  type Phase,
  runWorkloads,
  SENDER,
  type SyslogSetup,
  sendWires,
  type ThreadSplit,
  wiresOf,
  workloadOf,
} from './syslog-load.ts'
import type { ThreadKind } from './thread-kinds.ts'

/** How often the driver asks the nodes how far they are (IPC; each answer costs ~0.1 ms). */
const POLL_MS = 10
const GIVE_UP_MS = 1_200_000

export async function benchSyslogProcesses(): Promise<Figure[]> {
  const w = workloadOf()
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-bench-syslog-procs-'))
  const intervalBefore = process.env.CHECKPOINT_INTERVAL_MS
  let cluster: Cluster | undefined
  try {
    const { dirs, membership } = await initNetwork(join(root, 'net'))
    const setup = await configureReceiver(dirs[0]!)
    // As the in-process topology: checkpoint rounds only when asked (none here), unless
    // SYSLOG_CHECKPOINT_MS sets the nodes' round interval (a node's default is 10,000).
    const every = process.env.SYSLOG_CHECKPOINT_MS ?? '0'
    if (!/^\d+$/.test(every))
      throw new Error(
        `SYSLOG_CHECKPOINT_MS must be a whole number of ms (0: no rounds), not ${every}`,
      )
    process.env.CHECKPOINT_INTERVAL_MS = every
    const c = new Cluster(
      dirs,
      membership.members.map((m) => m.name),
      root,
    )
    cluster = c
    await Promise.all([0, 1, 2].map((i) => c.start(i)))
    const origin = membership.members[0]!.name
    return await runWorkloads('3 node processes', w, (patients) =>
      sendAll(c, origin, setup, patients, w.connections),
    )
  } finally {
    if (intervalBefore === undefined) delete process.env.CHECKPOINT_INTERVAL_MS
    else process.env.CHECKPOINT_INTERVAL_MS = intervalBefore
    await cluster?.stopAll()
    if (cluster && cluster.unhandled.length > 0)
      console.error(`[syslog] nodes left rejections unhandled: ${cluster.unhandled.join('; ')}`)
    await rm(root, { recursive: true, force: true })
  }
}

async function appendedOf(c: Cluster): Promise<number> {
  return (await c.node(0).syslog()).find((t) => t.sender === SENDER)?.appended ?? 0
}

interface CpuSample {
  /** This process (the senders), then each node process: µs since each started. */
  processes: number[]
  /** Each node's threads, [tid, µs, kind], its main thread first. */
  threads: Array<Array<[number, number, ThreadKind]>>
}

async function cpuNow(c: Cluster): Promise<CpuSample> {
  const own = process.cpuUsage()
  const usage = await Promise.all([0, 1, 2].map((i) => c.node(i).usage()))
  return {
    processes: [own.user + own.system, ...usage.map((u) => u.cpuUs)],
    threads: usage.map((u) => u.threadsUs),
  }
}

/**
 * Per node, the CPU between two samples (thread-kinds.ts): its main thread (event loop), its
 * busiest thread started later (on the receiving node the syslog parse thread; a VRF thread
 * while patients are new), V8's platform threads (GC helpers: concurrent marking, parallel
 * scavenges; background compilation), libuv's pool (LevelDB's reads and writes: memtable
 * inserts, its log and fsync), and the rest (seal and index workers, LevelDB's compaction
 * thread, jemalloc's purging thread).
 */
function threadSplit(a: CpuSample, b: CpuSample): ThreadSplit[] {
  return b.threads.map((after, i) => {
    const before = new Map(a.threads[i]!.map(([tid, us]) => [tid, us]))
    const split = { main: 0, v8: 0, libuv: 0 }
    const others: number[] = []
    for (const [tid, us, kind] of after) {
      const d = us - (before.get(tid) ?? 0)
      if (kind === 'other') others.push(d)
      else split[kind] += d
    }
    others.sort((x, y) => y - x)
    const rest = others.slice(1).reduce((x, y) => x + y, 0)
    return { ...split, busiest: others[0] ?? 0, rest }
  })
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + GIVE_UP_MS
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(POLL_MS)
  }
}

async function sendAll(
  c: Cluster,
  origin: string,
  setup: SyslogSetup,
  patients: readonly string[],
  connections: number,
): Promise<Phase> {
  const count = patients.length
  const base = (await c.node(0).sizes())[origin] ?? 0
  const appended0 = await appendedOf(c)
  const wires = wiresOf(patients, connections)
  const load = loadavg()
  const cpu0 = await cpuNow(c)
  const t0 = performance.now()
  await sendWires(setup, wires)
  await until('appended', async () => (await appendedOf(c)) - appended0 >= count)
  const appendedMs = performance.now() - t0
  const cpu1 = await cpuNow(c)
  const target = base + count
  await until('replicas converge', async () =>
    (await Promise.all([0, 1, 2].map((i) => c.node(i).sizes()))).every(
      (s) => (s[origin] ?? 0) >= target,
    ),
  )
  const convergedMs = performance.now() - t0
  const cpu2 = await cpuNow(c)
  // Every node's index roots at the sizes it holds: every beta of the new entries known.
  const roots = await Promise.all([0, 1, 2].map((i) => c.node(i).indexRoots()))
  if (roots.some((ms) => ms < 0)) throw new Error('a node refused its index roots')
  const indexedMs = performance.now() - t0
  const split = cpu1.processes.map((us, i) => us - cpu0.processes[i]!)
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
  return {
    appendedMs,
    convergedMs,
    indexedMs,
    cpuUs: sum(split),
    cpuSplitUs: split,
    cpuConvergedUs: sum(cpu2.processes.map((us, i) => us - cpu0.processes[i]!)),
    threadsUntilAppended: threadSplit(cpu0, cpu1),
    threadsUntilConverged: threadSplit(cpu0, cpu2),
    load,
    loadEnd: loadavg(),
  }
}
