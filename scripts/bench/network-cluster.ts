// The network benchmark's three nodes, each its own OS process (network-node.ts), driven
// over HTTP and watched over IPC. Only this file knows they are processes.
import { type ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeProcessEnv } from '../../bin/relaunch.js'
import type { SenderTally } from '../../node/atna/sender-counts.ts'
import { sourceUrl } from '../../node/threads/source-root.ts'
import type { ChildMessage, DriverMessage, NodeUsage, RoundResult } from './network-ipc.ts'

/**
 * Run from the bench bundle (`npm run bench`: scripts/build.mjs --bench), the nodes run their
 * bundle too, as `ehrlog node start` runs dist/; run through tsx, the TypeScript source.
 */
const BUNDLED = (globalThis as { EHRLOG_SOURCE_ROOT?: string }).EHRLOG_SOURCE_ROOT !== undefined
const NODE_SCRIPT = BUNDLED
  ? fileURLToPath(sourceUrl('dist/bench/network-node.mjs'))
  : fileURLToPath(sourceUrl('scripts/bench/network-node.ts'))
const NODE_LOADER = BUNDLED ? fileURLToPath(sourceUrl('dist/shim.mjs')) : 'tsx'
const START_TIMEOUT_MS = 60_000
const STOP_GRACE_MS = 20_000
export const GIVE_UP_MS = 120_000

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))
/** This process's clock in the nodes' terms: ms since the epoch, sub-millisecond. */
export const now = () => performance.timeOrigin + performance.now()

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

/** One node process while it runs. */
export class NodeProcess {
  readonly child: ChildProcess
  http = ''
  /** From spawn until node.start() returned, measured in the node. */
  startMs = 0
  /** Spawn → 'started', measured here (process start and module loading included). */
  spawnToStartedMs = 0
  readonly #pending = new Map<number, Pending>()
  #nextId = 0
  #exited: Promise<void>
  onArrivals: (items: Array<[number, number]>) => void = () => {}

  constructor(
    dir: string,
    logFile: string,
    private readonly unhandled: string[],
  ) {
    this.child = fork(NODE_SCRIPT, [dir, logFile], {
      // NODE_ARGS: extra Node flags for the node processes, e.g. --cpu-prof (diagnosis).
      execArgv: [
        '--import',
        NODE_LOADER,
        ...(process.env.NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // With the allocator `ehrlog node start` gives a node (bin/relaunch.js).
      env: nodeProcessEnv(),
    })
    this.#exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.child.on('message', (m: ChildMessage) => this.#onMessage(m))
  }

  /** Resolves once the node serves HTTP; rejects if it fails or exits first. */
  async started(timeoutMs = START_TIMEOUT_MS): Promise<this> {
    const t0 = now()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('node did not start in time')), timeoutMs)
      this.child.on('message', (m: ChildMessage) => {
        if (m.type === 'started') {
          clearTimeout(timer)
          this.http = m.http
          this.startMs = m.startMs
          resolve()
        } else if (m.type === 'failed') reject(new Error(`node failed to start: ${m.message}`))
      })
      this.child.once('exit', (code) => reject(new Error(`node exited with ${code} at start`)))
    })
    this.spawnToStartedMs = now() - t0
    return this
  }

  sizes(): Promise<Record<string, number>> {
    return this.#ask('sizes') as Promise<Record<string, number>>
  }

  /** The syslog listener's per-sender tallies (empty without one). */
  syslog(): Promise<SenderTally[]> {
    return this.#ask('syslog') as Promise<SenderTally[]>
  }

  usage(): Promise<NodeUsage> {
    return this.#ask('usage') as Promise<NodeUsage>
  }

  send(message: DriverMessage): void {
    this.child.send(message)
  }

  /** Asks the node to stop cleanly; SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies DriverMessage)
    else this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS)
    await this.#exited
    clearTimeout(timer)
  }

  /** Resolves, with the node's clock (ms since the epoch), once it holds at least `sizes`. */
  reach(sizes: Record<string, number>): Promise<number> {
    return this.#ask('reach', { sizes }) as Promise<number>
  }

  /** Runs one checkpoint round with this node proposing (the checkpoint benchmark at scale). */
  round(): Promise<RoundResult> {
    return this.#ask('round') as Promise<RoundResult>
  }

  /** Times the node's index roots of every feed at the sizes it holds (ms; -1: refused). */
  indexRoots(): Promise<number> {
    return this.#ask('indexRoots') as Promise<number>
  }

  #ask(
    type: 'sizes' | 'syslog' | 'usage' | 'reach' | 'round' | 'indexRoots',
    fields: object = {},
  ): Promise<unknown> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.child.send({ type, id, ...fields } as DriverMessage)
    })
  }

  #onMessage(m: ChildMessage): void {
    if (m.type === 'reply') {
      this.#pending.get(m.id)?.resolve(m.value)
      this.#pending.delete(m.id)
    } else if (m.type === 'arrivals') this.onArrivals(m.items)
    else if (m.type === 'unhandled') this.unhandled.push(m.message)
  }
}

/** The three nodes; a slot is empty while its node is stopped. */
export class Cluster {
  readonly nodes: Array<NodeProcess | undefined>
  /** Rejections the nodes left unhandled (reported, not fatal). */
  readonly unhandled: string[] = []
  /** How long a node may take to start (nodes that build a large index take longer). */
  startTimeoutMs = START_TIMEOUT_MS

  constructor(
    readonly dirs: string[],
    readonly names: string[],
    readonly logDir: string,
  ) {
    this.nodes = dirs.map(() => undefined)
  }

  async start(i: number): Promise<NodeProcess> {
    const logFile = join(this.logDir, `${this.names[i]}.log`)
    const node = new NodeProcess(this.dirs[i]!, logFile, this.unhandled)
    this.nodes[i] = node
    try {
      return await node.started(this.startTimeoutMs)
    } catch (err) {
      this.nodes[i] = undefined
      await node.stop()
      throw err
    }
  }

  async stop(i: number): Promise<void> {
    const node = this.nodes[i]
    this.nodes[i] = undefined
    await node?.stop()
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.nodes.map((_, i) => this.stop(i)))
  }

  node(i: number): NodeProcess {
    const node = this.nodes[i]
    if (!node) throw new Error(`node ${i + 1} is not running`)
    return node
  }

  /** How far the least complete of `nodes` is behind the most complete, over every feed. */
  async lag(nodes: number[] = [0, 1, 2]): Promise<number> {
    const sizes = await Promise.all(nodes.map((i) => this.node(i).sizes()))
    let lag = 0
    for (const origin of this.names) {
      const held = sizes.map((s) => s[origin] ?? 0)
      lag += Math.max(...held) - Math.min(...held)
    }
    return lag
  }

  /** Milliseconds until `nodes` hold the same feeds (asked every 10 ms), or GIVE_UP_MS. */
  async timeToConverge(nodes: number[] = [0, 1, 2]): Promise<number> {
    const t0 = performance.now()
    while ((await this.lag(nodes)) > 0 && performance.now() - t0 < GIVE_UP_MS) await sleep(10)
    return performance.now() - t0
  }

  /** CPU µs each running node used since it started. */
  async cpu(): Promise<number[]> {
    return Promise.all(this.nodes.map(async (n) => (n ? (await n.usage()).cpuUs : 0)))
  }
}
