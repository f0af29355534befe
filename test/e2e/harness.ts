import { randomInt } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, afterEach, expect } from 'vitest'
import { type NodeProcess, spawnNode } from '../../scripts/local-network.ts'
import { runCli } from '../helpers/cli.ts'

/**
 * Real nodes as OS processes on 127.0.0.1 (`ehrlog node start` through scripts/local-network.ts),
 * created by `ehrlog network init`. Every process a test starts is stopped after it, pass or
 * fail, and must have exited; then its temp folder is removed.
 */

/** One member of a local network: its folder, and its process while one runs. */
export interface Member {
  name: string
  dir: string
  /** Base URL of its HTTP API (fixed by `network init`, so the same across restarts). */
  http: string
  apiToken: string
  logFile: string
  process: NodeProcess | undefined
  /** `node start` arguments of this member only, after the network's. */
  args?: string[]
}

export interface LocalNetwork {
  root: string
  /** The members `network init` made; a test may push more (a hospital that joins later). */
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
        const args = [...(opts.args ?? []), ...(m.args ?? [])]
        // At a load of 25 a node process can take more than 30 s to serve (a joining one more).
        const p = await spawnNode(m.dir, { logFile: m.logFile, args, timeoutMs: 60_000 })
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
