// ATNA ingest benchmark (issue 17): audit messages over RFC 5425 syslog-over-TLS into the
// first of 3 real local nodes, counted from the first byte sent until every message is
// appended (durable) there, until both other replicas hold them too, and until every node's
// per-patient index has the VRF outputs (betas) of their patients, so that a checkpoint can
// cut there. Two topologies (SYSLOG_TOPOLOGY: processes, in-process, or both, default both):
//
// - `processes`: each node its own OS process (network-node.ts, as a hospital's machine runs
//   one), real libp2p between them on 127.0.0.1; the TLS senders in this process
//   (syslog-processes.ts). CPU is summed over the 4 processes.
// - `in-process`: the 3 nodes and the senders in this one process (below).
//
// Two workloads on the same 3 nodes (docs/performance.md "ATNA syslog ingest"):
//
// - `pool`: what a hospital sends. Its audit messages name patients it has seen before: a pool
//   of SYSLOG_PATIENTS (default 100,000) patients, each sent once first (untimed, until every
//   index knows them), then SYSLOG_MESSAGES messages each naming a patient drawn uniformly,
//   with repetition, from the pool (a fixed-seed PRNG, so every run sends the same messages);
//   SYSLOG_ROUNDS (default 3) such bursts, each its own draw, the median reported.
// - `new`: the worst case, every message a patient no node has seen (one VRF per message per
//   node).
//
// SYSLOG_WORKLOAD: pool, new, or both (default, pool first); SYSLOG_MESSAGES (default 20,000),
// SYSLOG_CONNECTIONS (default 4), SYSLOG_PARSE_THREADS (config.json syslog.parseThreads;
// unset: the node's default), SYSLOG_CHECKPOINT_MS (the node processes' checkpoint round
// interval; default 0, no rounds, as in-process; a node's own default is 10,000).
import '../../node/shim.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNetwork, startNodes, waitFor } from '../in-process-network.ts'
import { type Figure, printFigures } from './report.ts'
import {
  configureReceiver,
  type Phase,
  runWorkloads,
  SENDER,
  type SyslogSetup,
  sendWires,
  wiresOf,
  workloadOf,
} from './syslog-load.ts'
import { benchSyslogProcesses } from './syslog-processes.ts'

type Nodes = Awaited<ReturnType<typeof startNodes>>

export async function benchSyslog(): Promise<Figure[]> {
  const topology = process.env.SYSLOG_TOPOLOGY ?? 'both'
  const figures: Figure[] = []
  if (topology === 'processes' || topology === 'both')
    figures.push(...(await benchSyslogProcesses()))
  if (topology === 'in-process' || topology === 'both')
    figures.push(...(await benchSyslogInProcess()))
  return figures
}

/** The 3 nodes and the senders in this process. */
export async function benchSyslogInProcess(): Promise<Figure[]> {
  const w = workloadOf()
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-bench-syslog-'))
  try {
    const { dirs } = await initNetwork(root)
    const setup = await configureReceiver(dirs[0]!)
    const nodes = await startNodes(dirs)
    try {
      return await runWorkloads('1 process', w, (patients) =>
        sendAll(nodes, setup, patients, w.connections),
      )
    } finally {
      await Promise.all(nodes.map((n) => n.stop()))
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** Sends one message per patient over `connections` TLS connections; waits for all three stages. */
async function sendAll(
  nodes: Nodes,
  setup: SyslogSetup,
  patients: readonly string[],
  connections: number,
): Promise<Phase> {
  const first = nodes[0]!
  const origin = first.status().node
  const base = first.store.size(origin)
  const appended0 = appendedOf(first)
  const count = patients.length
  const wires = wiresOf(patients, connections)
  const load = loadavg()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await sendWires(setup, wires)
  await waitFor('appended', () => appendedOf(first) - appended0 >= count, 1_200_000)
  const appendedMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await waitFor(
    'replicas converge',
    () => nodes.every((n) => n.store.size(origin) >= base + count),
    1_200_000,
  )
  const convergedMs = performance.now() - t0
  // The root at the new size needs every beta of the patients named there: the next
  // checkpoint's cut can be proposed from then on.
  await Promise.all(nodes.map((n) => n.index.rootAt(origin, base + count)))
  const indexedMs = performance.now() - t0
  return {
    appendedMs,
    convergedMs,
    indexedMs,
    cpuUs: cpu.user + cpu.system,
    load,
    loadEnd: loadavg(),
  }
}

function appendedOf(node: Nodes[number]): number {
  return node.status().syslog?.find((s) => s.sender === SENDER)?.appended ?? 0
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/syslog\.(ts|mjs)$/)) {
  printFigures('ATNA syslog ingest, 3 local nodes', await benchSyslog())
}
