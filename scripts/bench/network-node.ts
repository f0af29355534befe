// One node of the network benchmark as its own OS process, as deployed (a machine per node):
// `node --import tsx scripts/bench/network-node.ts DIR LOGFILE`, started by network-cluster.ts
// with an IPC channel. It runs EhrlogNode on DIR with production defaults (logs at info to
// LOGFILE) and answers the driver's questions over IPC: feed sizes, CPU used, and, while
// watched, when each batch of an origin was stored here (NetService.onAccepted), stamped
// with this process's clock (performance.timeOrigin + now: the wall clock, sub-millisecond).
import '../../node/shim.ts'
import { createWriteStream } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createLogger } from '../../node/logger.ts'
import { EhrlogNode } from '../../node/node.ts'
import type { ChildMessage, DriverMessage, RoundResult } from './network-ipc.ts'
import { type ThreadKind, threadCpuUs, threadIds, threadKindsAtStart } from './thread-kinds.ts'

const [dir, logFile] = process.argv.slice(2) as [string, string]
/** Threads before the node is built, by kind (main, V8's, libuv's pool). */
const kindsAtStart = await threadKindsAtStart()
const send = (message: ChildMessage) => process.send?.(message)
const now = () => performance.timeOrigin + performance.now()

const logStream = createWriteStream(logFile, { flags: 'a' })
const node = new EhrlogNode({
  dir,
  logger: createLogger({ level: 'info', destination: logStream }),
  ...(process.env.CHECKPOINT_INTERVAL_MS
    ? { checkpointIntervalMs: Number(process.env.CHECKPOINT_INTERVAL_MS) }
    : {}),
})

// A bug that leaves a rejection unhandled is counted by the driver, not fatal to the run.
process.on('unhandledRejection', (err) =>
  send({ type: 'unhandled', message: err instanceof Error ? err.message : String(err) }),
)

let arrivals: Array<[treeSize: number, atMs: number]> = []
let unwatch: (() => void) | undefined
let flushTimer: NodeJS.Timeout | undefined
const loopDelay = monitorEventLoopDelay({ resolution: 5 })

function watch(origin: string): void {
  unwatch?.()
  unwatch = node.net.onAccepted((batch) => {
    if (batch.origin === origin) arrivals.push([batch.head.treeSize, now()])
  })
  // One IPC message per 20 ms, not one per batch: the channel is not what is measured.
  flushTimer = setInterval(() => {
    if (arrivals.length === 0) return
    send({ type: 'arrivals', items: arrivals })
    arrivals = []
  }, 20)
}

/** Each thread's CPU (utime + stime, /proc/self/task/TID/stat), main thread first; µs. */
function threadsUs(): Array<[tid: number, cpuUs: number, kind: ThreadKind]> {
  const tids = threadIds().sort((a, b) => (a === process.pid ? -1 : b === process.pid ? 1 : a - b))
  return tids.flatMap((tid) => {
    const us = threadCpuUs(tid)
    return us === undefined ? [] : [[tid, us, kindsAtStart.get(tid) ?? 'other'] as const]
  }) as Array<[number, number, ThreadKind]>
}

let stopping: Promise<void> | undefined
function stop(): Promise<void> {
  stopping ??= (async () => {
    clearInterval(flushTimer)
    unwatch?.()
    await node.stop()
    await new Promise((resolve) => logStream.end(resolve))
    process.exit(0)
  })()
  return stopping
}
process.on('SIGTERM', () => void stop())
process.on('disconnect', () => void stop()) // the driver went away: leave nothing behind

process.on('message', (message: DriverMessage) => {
  switch (message.type) {
    case 'sizes': {
      const sizes = Object.fromEntries(node.store.sizes())
      send({ type: 'reply', id: message.id, value: sizes })
      break
    }
    case 'syslog':
      send({ type: 'reply', id: message.id, value: node.status().syslog ?? [] })
      break
    case 'usage': {
      const { user, system } = process.cpuUsage()
      const value = {
        cpuUs: user + system,
        rssBytes: process.memoryUsage().rss,
        loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.max / 1e6,
        threadsUs: threadsUs(),
      }
      send({ type: 'reply', id: message.id, value })
      break
    }
    case 'reach': {
      // Checked as each batch is stored rather than polled: polling every few ms would cost
      // the node being measured CPU, and would round the time up to the poll interval.
      const reached = () => {
        const held = node.store.sizes()
        return Object.entries(message.sizes).every(([o, size]) => (held.get(o) ?? 0) >= size)
      }
      const reply = () => send({ type: 'reply', id: message.id, value: now() })
      if (reached()) {
        reply()
        break
      }
      const off = node.net.onAccepted(() => {
        if (!reached()) return
        off()
        reply()
      })
      break
    }
    case 'watch':
      watch(message.origin)
      loopDelay.reset()
      loopDelay.enable()
      break
    case 'unwatch':
      clearInterval(flushTimer)
      unwatch?.()
      unwatch = undefined
      if (arrivals.length > 0) send({ type: 'arrivals', items: arrivals })
      arrivals = []
      loopDelay.disable()
      break
    case 'indexRoots': {
      const t0 = performance.now()
      const sizes = [...node.store.sizes()]
      Promise.all(sizes.map(([origin, size]) => node.index.rootAt(origin, size))).then(
        () => send({ type: 'reply', id: message.id, value: performance.now() - t0 }),
        () => send({ type: 'reply', id: message.id, value: -1 }),
      )
      break
    }
    case 'round': {
      const t0 = performance.now()
      node.checkpoints.runRound().then(
        () =>
          send({
            type: 'reply',
            id: message.id,
            value: { ms: performance.now() - t0 } satisfies RoundResult,
          }),
        (err: Error) =>
          send({
            type: 'reply',
            id: message.id,
            value: { ms: performance.now() - t0, error: err.message } satisfies RoundResult,
          }),
      )
      break
    }
    case 'stop':
      void stop()
      break
  }
})

const startedAt = now()
try {
  const info = await node.start()
  send({ type: 'started', http: info.http, startMs: now() - startedAt })
} catch (err) {
  send({ type: 'failed', message: (err as Error).message })
  await node.stop().catch(() => {})
  process.exit(1)
}
