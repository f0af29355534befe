// The three measured phases of the network benchmark (network.ts): sustained ingest at
// node 1 while nodes 2 and 3 replicate, propagation latency at 1,000 events/s, and catch-up
// of a restarted node. Every node is its own process (network-cluster.ts); CPU figures are
// the nodes' own (all their threads), not the driver's.
import { type Cluster, GIVE_UP_MS, now, sleep } from './network-cluster.ts'
import { BODIES, REQUEST_EVENTS, smallBodies } from './network-load.ts'

/** Requests in flight during sustained ingest: bounded, as an EHR client would be. */
export const IN_FLIGHT = 8
/** Latency load: PER_TICK events every TICK_MS (1,000 events/s); the first WARMUP_MS not counted. */
const TICK_MS = 10
const PER_TICK = 10
const WARMUP_MS = 2_000

type Post = (body: string) => Promise<number>

export function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** CPU µs the nodes used between two Cluster.cpu() readings, per node (a restarted one from 0). */
function cpuSince(before: number[], after: number[]): number[] {
  return after.map((a, i) => (a >= before[i]! ? a - before[i]! : a))
}

/** POSTs REQUEST_EVENTS-event requests, IN_FLIGHT at a time, for `seconds`, then waits for convergence. */
export async function sustainedIngest(c: Cluster, post: Post, seconds: number) {
  let accepted = 0
  let maxLag = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      maxLag = Math.max(maxLag, await c.lag())
      await sleep(250)
    }
  })()
  const cpu0 = await c.cpu()
  const driver0 = process.cpuUsage()
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  try {
    const client = async (w: number) => {
      for (let r = w; performance.now() < end; r += IN_FLIGHT) {
        await post(BODIES[r % BODIES.length]!)
        accepted += REQUEST_EVENTS
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => client(w)))
  } finally {
    sampling = false
    await sampler
  }
  const ingestMs = performance.now() - t0
  const driver = process.cpuUsage(driver0)
  const cpuIngest = cpuSince(cpu0, await c.cpu())
  const endLag = await c.lag()
  const convergeMs = await c.timeToConverge()
  const cpu = cpuSince(cpu0, await c.cpu())
  return {
    perSecond: accepted / (ingestMs / 1000),
    endLag,
    maxLag: Math.max(maxLag, endLag),
    convergeMs,
    replicatedPerSecond: accepted / ((ingestMs + convergeMs) / 1000),
    /** Cores each node used while ingest ran. */
    ...Object.fromEntries(cpuIngest.map((us, i) => [`cores${i + 1}`, us / 1000 / ingestMs])),
    /** CPU per event from the first request until converged: all nodes, then each. */
    cpuPerEventUs: cpu.reduce((a, b) => a + b, 0) / accepted,
    ...Object.fromEntries(cpu.map((us, i) => [`cpuPerEventUs${i + 1}`, us / accepted])),
    /** This process (the HTTP client) per event: it shares the 2 cores with the nodes. */
    driverCpuPerEventUs: (driver.user + driver.system) / accepted,
  }
}

/**
 * PER_TICK events every TICK_MS to node 1. Per request (one sample): from node 1's 201
 * reaching this client until both other nodes have stored a batch reaching its last seq,
 * as the nodes stamp it (NetService.onAccepted); also from the POST being sent.
 */
export async function propagationLatency(c: Cluster, post: Post, seconds: number) {
  const origin = c.names[0]!
  const arrivals: Array<Array<[number, number]>> = [[], []]
  for (const [j, i] of [1, 2].entries()) {
    const node = c.node(i)
    node.onArrivals = (items) => arrivals[j]!.push(...items)
    node.send({ type: 'watch', origin })
  }
  const bodies = smallBodies(PER_TICK)
  const samples: Array<{ seq: number; sentAt: number; durableAt: number }> = []
  const requests: Promise<void>[] = []
  const ticks = (seconds * 1000) / TICK_MS
  const t0 = now()
  for (let tick = 0; tick < ticks; ) {
    // Ticks missed while this process was descheduled go at once: the offered rate stays 1,000/s.
    const due = Math.min(ticks, Math.floor((now() - t0) / TICK_MS) + 1)
    for (; tick < due; tick++) {
      const sentAt = now()
      requests.push(
        post(bodies[tick % bodies.length]!).then((seq) => {
          samples.push({ seq, sentAt, durableAt: now() })
        }),
      )
    }
    await sleep(t0 + tick * TICK_MS - now())
  }
  await Promise.all(requests)
  const offeredMs = now() - t0
  if ((await c.timeToConverge()) >= GIVE_UP_MS) throw new Error('replicas did not converge')
  await sleep(50) // the last arrivals travel over IPC every 20 ms
  const usage = await Promise.all([0, 1, 2].map((i) => c.node(i).usage()))
  for (const i of [1, 2]) c.node(i).send({ type: 'unwatch' })
  const propagation: number[] = []
  const endToEnd: number[] = []
  const durable: number[] = []
  for (const s of samples) {
    if (s.sentAt - t0 < WARMUP_MS) continue
    // Batches of one origin are stored in seq order, so arrivals are sorted by tree size.
    const held = arrivals.map((a) => a.find(([size]) => size >= s.seq)?.[1])
    if (held.some((at) => at === undefined)) throw new Error(`seq ${s.seq} never arrived`)
    const stored = Math.max(...(held as number[]))
    propagation.push(stored - s.durableAt)
    endToEnd.push(stored - s.sentAt)
    durable.push(s.durableAt - s.sentAt)
  }
  for (const list of [propagation, endToEnd, durable]) list.sort((a, b) => a - b)
  return {
    p50: percentile(propagation, 0.5),
    p99: percentile(propagation, 0.99),
    max: propagation.at(-1)!,
    /** Below 0 would mean the clocks disagree (a replica stored it before node 1 answered). */
    min: propagation[0]!,
    endToEndP99: percentile(endToEnd, 0.99),
    durableP99: percentile(durable, 0.99),
    loopDelayP99Node2: usage[1]!.loopDelayP99Ms,
    loopDelayMaxNode2: usage[1]!.loopDelayMaxMs,
    loopDelayMaxNode3: usage[2]!.loopDelayMaxMs,
    offeredPerSecond: (ticks * PER_TICK) / (offeredMs / 1000),
    samples: propagation.length,
  }
}

/**
 * Stops node 3, appends `entries` at node 1 and a tenth of that at node 2, then restarts
 * node 3 on its folder (a new process) and times until it holds what the others hold.
 */
export async function catchUp(c: Cluster, posts: Post[], entries: number) {
  const before = await c.node(2).sizes()
  await c.stop(2)
  const appendAt = async (post: Post, total: number) => {
    let next = 0
    const client = async () => {
      while (next < total) {
        const r = next / REQUEST_EVENTS
        next += REQUEST_EVENTS
        await post(BODIES[r % BODIES.length]!)
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT / 2 }, client))
  }
  await Promise.all([appendAt(posts[0]!, entries), appendAt(posts[1]!, entries / 10)])
  if ((await c.timeToConverge([0, 1])) >= GIVE_UP_MS) throw new Error('nodes 1, 2 diverge')
  const target = await c.node(0).sizes()
  let missing = 0
  for (const [origin, size] of Object.entries(target)) missing += size - (before[origin] ?? 0)
  const cpu0 = await c.cpu()
  const t0 = now() // the wall clock, as the node's reply is stamped
  const node = await c.start(2)
  const startedMs = now() - t0
  let timer: NodeJS.Timeout | undefined
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('node 3 did not catch up')), GIVE_UP_MS)
  })
  const totalMs =
    (await Promise.race([node.reach(target), giveUp]).finally(() => clearTimeout(timer))) - t0
  const cpu = cpuSince(cpu0, await c.cpu())
  return {
    missing,
    startedMs,
    startInNodeMs: node.startMs,
    totalMs,
    perSecond: missing / (totalMs / 1000),
    pullPerSecond: missing / ((totalMs - startedMs) / 1000),
    /** From node.start() being called (the process loaded): comparable to the in-process figure. */
    fromStartPerSecond: missing / ((totalMs - startedMs + node.startMs) / 1000),
    /** Node 3's CPU (from its spawn: start included) per entry, and the two responders'. */
    cpuPerEntryUs3: cpu[2]! / missing,
    cpuPerEntryUs1: cpu[0]! / missing,
    cpuPerEntryUs2: cpu[1]! / missing,
    cores3: cpu[2]! / 1000 / totalMs,
  }
}
