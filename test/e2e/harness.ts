import { randomInt } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, afterEach, expect } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { type NodeProcess, spawnNode } from '../../scripts/local-network.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'

/**
 * Real nodes as OS processes on 127.0.0.1 (`ehrlog node start` through scripts/local-network.ts),
 * created by `ehrlog network init`. Every process a test starts is stopped after it, pass or
 * fail, and must have exited; then its temp folder is removed.
 */

export interface FeedStatus {
  origin: string
  size: number
  headSize?: number
}

export interface NodeStatusBody {
  node: string
  peers: Array<{ name?: string; peerId: string; connected: boolean }>
  feeds: FeedStatus[]
}

/** One member of a local network: its folder, and its process while one runs. */
export interface Member {
  name: string
  dir: string
  /** Base URL of its HTTP API (fixed by `network init`, so the same across restarts). */
  http: string
  apiToken: string
  logFile: string
  process: NodeProcess | undefined
}

export interface LocalNetwork {
  root: string
  members: Member[]
  member(name: string): Member
  /** Starts the member's node (again, in the same folder) and waits until it serves HTTP. */
  start(name: string): Promise<Member>
  /** SIGTERM and wait for the exit. */
  stop(name: string): Promise<void>
  /** SIGKILL and wait for the exit: a crash, nothing flushed or removed. */
  kill(name: string): Promise<void>
  stopAll(): Promise<void>
}

export interface NetworkOptions {
  nodes: number
  /** Distinct per test file, so that files running in parallel take distinct port ranges. */
  fileIndex: number
  /** Extra `node start` arguments for every node. */
  args?: string[]
}

/** Ports one file may use: 20000 + 100 * fileIndex, up to 100 of them. */
const PORTS_PER_FILE = 100
/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 15_000
/** Offsets of this file already handed out: a killed process may still hold them. */
const usedOffsets = new Set<number>()

/**
 * Gives each test (or, with `scope: 'file'`, the whole file) a way to create local networks.
 * Afterwards every node is stopped (SIGKILL after a grace period), each child is checked to
 * have exited, on failure the tail of each node's log is printed, and the folders go.
 */
export function useLocalNetworks(
  { scope }: { scope: 'test' | 'file' } = { scope: 'test' },
): (opts: NetworkOptions) => Promise<LocalNetwork> {
  const networks: LocalNetwork[] = []
  const children: NodeProcess[] = []
  const roots: string[] = []
  let failed = false

  const cleanUp = async () => {
    const made = networks.splice(0)
    try {
      const stopped = await Promise.allSettled(made.map((n) => n.stopAll()))
      if (failed) await printLogTails(made)
      if (process.env.EHRLOG_E2E_KEEP_LOGS) await keepLogs(made, process.env.EHRLOG_E2E_KEEP_LOGS)
      failed = false
      for (const p of children.splice(0)) {
        const { exitCode, signalCode, pid } = p.child
        const running = exitCode === null && signalCode === null
        if (running) p.child.kill('SIGKILL') // still fail below, but leave nothing behind
        expect(running, `node process ${pid} in ${p.dir} was still running`).toBe(false)
      }
      for (const result of stopped) if (result.status === 'rejected') throw result.reason
    } finally {
      await Promise.all(roots.splice(0).map((d) => rm(d, { recursive: true, force: true })))
    }
  }
  // Last resort if the test worker goes away mid-test: no node outlives it.
  const killAll = () => {
    for (const p of children) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  afterAll(() => {
    process.off('exit', killAll)
  })
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true
    if (scope === 'test') await cleanUp()
  })
  if (scope === 'file') afterAll(cleanUp)

  return async (opts) => {
    const root = await mkdtemp(join(tmpdir(), 'ehrlog-e2e-'))
    roots.push(root)
    const basePort = await pickBasePort(opts.fileIndex, opts.nodes * 2)
    const init = await runCli([
      'network',
      'init',
      '--dir',
      join(root, 'net'),
      '--nodes',
      String(opts.nodes),
      '--base-port',
      String(basePort),
    ])
    expect(init.err, 'network init').toBe('')
    expect(init.code).toBe(0)
    const members: Member[] = []
    for (let i = 0; i < opts.nodes; i++) {
      const name = `hospital-${String.fromCharCode(97 + i)}`
      const dir = join(root, 'net', name)
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
        apiToken: string
      }
      members.push({
        name,
        dir,
        http: `http://127.0.0.1:${basePort + 2 * i + 1}`,
        apiToken: config.apiToken,
        logFile: join(root, `${name}.log`),
        process: undefined,
      })
    }
    const member = (name: string) => {
      const m = members.find((x) => x.name === name)
      if (!m) throw new Error(`no member ${name}`)
      return m
    }
    const halt = async (name: string, how: 'SIGTERM' | 'SIGKILL') => {
      const m = member(name)
      const p = m.process
      m.process = undefined
      if (!p) return
      if (how === 'SIGTERM') {
        await p.stop(STOP_GRACE_MS)
        // A clean stop ends with exit code 0; SIGKILL here means it overran the grace period.
        const { exitCode, signalCode } = p.child
        expect({ exitCode, signalCode }, `${name} after SIGTERM`).toEqual({
          exitCode: 0,
          signalCode: null,
        })
        return
      }
      if (p.child.exitCode !== null || p.child.signalCode !== null) return
      const gone = new Promise((resolve) => p.child.once('exit', resolve))
      p.child.kill('SIGKILL')
      await gone
    }
    const network: LocalNetwork = {
      root,
      members,
      member,
      start: async (name) => {
        const m = member(name)
        if (m.process) throw new Error(`${name} is already running`)
        const p = await spawnNode(m.dir, { logFile: m.logFile, args: opts.args ?? [] })
        children.push(p)
        m.process = p
        expect(p.info.http).toBe(m.http)
        return m
      },
      stop: (name) => halt(name, 'SIGTERM'),
      kill: (name) => halt(name, 'SIGKILL'),
      stopAll: async () => {
        const results = await Promise.allSettled(members.map((m) => halt(m.name, 'SIGTERM')))
        for (const result of results) if (result.status === 'rejected') throw result.reason
      },
    }
    networks.push(network)
    return network
  }
}

/**
 * A base port in this file's range whose `count` ports are free now and were not handed out
 * before in this file: 20000 + 100 * fileIndex + an even random offset.
 */
async function pickBasePort(fileIndex: number, count: number): Promise<number> {
  const first = 20_000 + PORTS_PER_FILE * fileIndex
  for (let attempt = 0; attempt < 20; attempt++) {
    const offset = 2 * randomInt(0, (PORTS_PER_FILE - count) / 2 + 1)
    const taken = [...usedOffsets].some((o) => Math.abs(o - offset) < count)
    if (taken) continue
    const ports = Array.from({ length: count }, (_, i) => first + offset + i)
    if (!(await allFree(ports))) continue
    usedOffsets.add(offset)
    return first + offset
  }
  throw new Error(`no ${count} free ports in ${first}–${first + PORTS_PER_FILE - 1}`)
}

async function allFree(ports: number[]): Promise<boolean> {
  const results = await Promise.all(
    ports.map(
      (port) =>
        new Promise<boolean>((resolve) => {
          const server = createServer()
          server.once('error', () => resolve(false))
          server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
        }),
    ),
  )
  return results.every(Boolean)
}

/** Copies the node logs to `to`/<temp folder name>/ (EHRLOG_E2E_KEEP_LOGS, for investigations). */
async function keepLogs(networks: LocalNetwork[], to: string): Promise<void> {
  for (const network of networks) {
    const into = join(to, basename(network.root))
    await mkdir(into, { recursive: true })
    for (const m of network.members)
      await copyFile(m.logFile, join(into, basename(m.logFile))).catch(() => {})
  }
}

async function printLogTails(networks: LocalNetwork[]): Promise<void> {
  for (const network of networks) {
    for (const m of network.members) {
      const text = await readFile(m.logFile, 'utf8').catch(() => '(no log)')
      const tail = text.trimEnd().split('\n').slice(-40).join('\n')
      console.error(`--- last lines of ${m.logFile} ---\n${tail}`)
    }
  }
}

/** POST /api/v1/events with the member's token (or `opts.token`) and an optional key. */
export function postEvents(
  m: Member,
  body: unknown,
  opts: { key?: string; token?: string; raw?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${opts.token ?? m.apiToken}`,
  }
  if (opts.key !== undefined) headers['idempotency-key'] = opts.key
  return fetch(`${m.http}/api/v1/events`, {
    method: 'POST',
    headers,
    body: opts.raw ?? JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  })
}

/** POSTs events and expects 201; returns the ids. */
export async function appendEvents(m: Member, events: AuditEvent[]): Promise<string[]> {
  const res = await postEvents(m, events)
  const text = await res.text()
  expect(res.status, `POST to ${m.name}: ${text}`).toBe(201)
  const { ids } = JSON.parse(text) as { ids: string[] }
  expect(ids).toHaveLength(events.length)
  return ids
}

export async function getStatus(m: Member): Promise<NodeStatusBody> {
  const res = await fetch(`${m.http}/api/v1/status`, { signal: AbortSignal.timeout(5_000) })
  expect(res.status, `status of ${m.name}`).toBe(200)
  return (await res.json()) as NodeStatusBody
}

/** origin → size of every feed the node holds (absent feeds are 0). */
export async function feedSizes(m: Member): Promise<Map<string, number>> {
  const status = await getStatus(m)
  return new Map(status.feeds.map((f) => [f.origin, f.size]))
}

/**
 * Polls `probe` until it returns `{ done: true }`, or fails after `timeoutMs` with `what` and
 * the last value seen. A probe that throws counts as not done (a node may be restarting).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<{ done: boolean; value: T }>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = 'nothing yet'
  for (;;) {
    try {
      const { done, value } = await probe()
      if (done) return value
      last = value
    } catch (err) {
      last = err instanceof Error ? `${err.name}: ${err.message}` : err
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${show(last)}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v))
}

/** Waits until every running member holds `expected` (origin → size), heads included. */
export async function waitForSizes(
  members: Member[],
  expected: Map<string, number>,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `${members.map((m) => m.name).join(', ')} to hold ${show(expected)}`,
    async () => {
      const seen: Record<string, FeedStatus[]> = {}
      let done = true
      for (const m of members) {
        const { feeds } = await getStatus(m)
        seen[m.name] = feeds
        for (const [origin, size] of expected) {
          const feed = feeds.find((f) => f.origin === origin)
          if (feed?.size !== size || feed.headSize !== size) done = false
        }
        if (feeds.length !== expected.size) done = false
      }
      return { done, value: seen }
    },
    timeoutMs,
  )
}

/** One entry of `ehrlog log --json`: what must be byte-identical across replicas. */
export interface ReplicaEntry {
  id: string
  bytes: string
  hash: string
  body: AuditEvent
}

/** Every event entry of a stopped node's replica, through `ehrlog log --dir D --json`. */
export async function readReplica(dir: string): Promise<ReplicaEntry[]> {
  const { code, out, err } = await runCli(['log', '--dir', dir, '--json', '--limit', '1000000'])
  expect(err, `ehrlog log --dir ${dir}`).toBe('')
  expect(code).toBe(0)
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const e = JSON.parse(line) as {
        id: string
        bytes: string
        hash: string
        entry: { body: AuditEvent }
      }
      return { id: e.id, bytes: e.bytes, hash: e.hash, body: e.entry.body }
    })
    .sort((a, b) => compareIds(a.id, b.id))
}

function compareIds(a: string, b: string): number {
  const [oa, sa] = splitId(a)
  const [ob, sb] = splitId(b)
  return oa === ob ? sa - sb : oa < ob ? -1 : 1
}

function splitId(id: string): [string, number] {
  const i = id.lastIndexOf(':')
  return [id.slice(0, i), Number(id.slice(i + 1))]
}

/**
 * Reads every member's replica (all must be stopped), checks that each holds the same
 * entries with identical bytes and hashes, and that `ehrlog verify` exits 0 on each.
 * Returns the replica, by then known to be the same everywhere.
 */
export async function expectIdenticalVerifiedReplicas(members: Member[]): Promise<ReplicaEntry[]> {
  for (const m of members)
    expect(m.process, `${m.name} must be stopped to read its folder`).toBeUndefined()
  // In-process (the modules are loaded already): starting a CLI process costs more than a
  // small replica. Each command locks the folder's store, so one at a time per folder.
  const checked = await Promise.all(
    members.map(async (m) => ({
      replica: await readReplica(m.dir),
      verify: await runCli(['verify', '--dir', m.dir]),
    })),
  )
  const replicas = checked.map((c) => c.replica)
  const verified = checked.map((c) => c.verify)
  verified.forEach((verify, i) => {
    const dir = members[i]!.dir
    expect(verify.code, `ehrlog verify --dir ${dir}: ${verify.out}${verify.err}`).toBe(0)
    expect(verify.out).toMatch(/^intact: /)
  })
  const [first, ...rest] = replicas
  const fingerprint = (r: ReplicaEntry[]) => r.map((e) => `${e.id} ${e.hash} ${e.bytes}`)
  rest.forEach((replica, i) => {
    const name = members[i + 1]!.name
    expect(replica.length, `${name} entries vs ${members[0]!.name}`).toBe(first!.length)
    // A count check first keeps a failure readable; this one proves byte identity.
    expect(fingerprint(replica), `${name} replica vs ${members[0]!.name}`).toEqual(
      fingerprint(first!),
    )
  })
  return first!
}

/** `count` events numbered from `from`, each with a distinct note so duplicates show. */
export function eventRange(from: number, count: number): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => makeEvent(from + i))
}
