// `ehrlog node start` runs the node as a child with glibc's mmap threshold fixed
// (bin/relaunch.js): real processes, a real node folder, real signals.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  allocatorEnv,
  JEMALLOC_CONF,
  jemallocPath,
  MMAP_THRESHOLD,
  relaunches,
} from '../../bin/relaunch.js'
import { readRuntimeInfo } from '../../node/identity/index.ts'
import { initNetwork, waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ehrlog.js')

describe('relaunches', () => {
  it('is for `node start` on Linux when the threshold is not set yet', () => {
    const env = {}
    expect(relaunches(['node', 'start', '--dir', 'x'], env, 'linux')).toBe(true)
    expect(relaunches(['--debug', 'node', 'start', '--dir', 'x'], env, 'linux')).toBe(true)
    expect(relaunches(['node', 'start'], { MALLOC_MMAP_THRESHOLD_: '65536' }, 'linux')).toBe(false)
    expect(relaunches(['node', 'start'], env, 'darwin')).toBe(false)
    expect(relaunches(['verify', '--dir', 'node'], env, 'linux')).toBe(false)
    expect(relaunches(['log', 'node', 'start'], env, 'linux')).toBe(false)
    expect(relaunches([], env, 'linux')).toBe(false)
  })

  it('preloads jemalloc where installed, after any other preload, and not twice', () => {
    const jemalloc = jemallocPath()
    expect(jemallocPath({ EHRLOG_JEMALLOC: '0' })).toBeUndefined()
    expect(allocatorEnv({ EHRLOG_JEMALLOC: '0' })).toEqual({
      MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD,
    })
    if (!jemalloc) return // not installed here: nothing is preloaded (asserted above)
    expect(allocatorEnv({})).toEqual({
      MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD,
      LD_PRELOAD: jemalloc,
      MALLOC_CONF: JEMALLOC_CONF,
    })
    expect(allocatorEnv({ MALLOC_CONF: 'narenas:1' }).MALLOC_CONF).toBeUndefined()
    expect(allocatorEnv({ LD_PRELOAD: '/x.so' }).LD_PRELOAD).toBe(`${jemalloc}:/x.so`)
    expect(allocatorEnv({ LD_PRELOAD: jemalloc }).LD_PRELOAD).toBeUndefined()
  })
})

/** /proc/PID/stat's parent pid and /proc/PID/environ as a map (Linux). */
async function procOf(pid: number): Promise<{ ppid: number; env: Map<string, string> }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  const env = new Map(
    (await readFile(`/proc/${pid}/environ`, 'utf8'))
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
  )
  return { ppid, env }
}

/** Whether `pid` runs (a zombie waiting for init to reap it has stopped running). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

describe.runIf(process.platform === 'linux')('ehrlog node start under its launcher', () => {
  const tempDir = useTempDirs()
  // Whatever a test leaves running (it failed midway) is killed after it.
  const launched: Array<{ launcher: ChildProcess; nodePid: number }> = []
  afterEach(() => {
    for (const { launcher, nodePid } of launched.splice(0)) {
      launcher.kill('SIGKILL')
      if (nodePid && alive(nodePid)) process.kill(nodePid, 'SIGKILL')
    }
  })

  /** Starts `ehrlog node start` as an operator would (no threshold set); waits for node.json. */
  async function launch(): Promise<{ launcher: ChildProcess; nodePid: number; dir: string }> {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const dir = dirs[0]!
    const env: Record<string, string | undefined> = { ...process.env }
    delete env.MALLOC_MMAP_THRESHOLD_
    delete env.LD_PRELOAD
    delete env.MALLOC_CONF
    const launcher = spawn(process.execPath, [BIN, 'node', 'start', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    })
    let stderr = ''
    launcher.stderr!.on('data', (d) => {
      stderr += d
    })
    let nodePid = 0
    try {
      await waitFor('node.json', async () => {
        if (launcher.exitCode !== null) throw new Error(`launcher exited: ${stderr}`)
        nodePid = (await readRuntimeInfo(dir))?.pid ?? 0
        return nodePid !== 0
      })
    } catch (err) {
      launcher.kill('SIGKILL')
      throw err
    }
    launched.push({ launcher, nodePid })
    return { launcher, nodePid, dir }
  }

  it('runs the node as its child with the threshold set, and SIGTERM stops both cleanly', async () => {
    const { launcher, nodePid, dir } = await launch()
    expect(nodePid).not.toBe(launcher.pid)
    const node = await procOf(nodePid)
    expect(node.ppid).toBe(launcher.pid)
    expect(node.env.get('MALLOC_MMAP_THRESHOLD_')).toBe(MMAP_THRESHOLD)
    // jemalloc where it is installed (CI installs libjemalloc2), and then really loaded.
    const jemalloc = jemallocPath()
    const maps = await readFile(`/proc/${nodePid}/maps`, 'utf8')
    expect(node.env.get('LD_PRELOAD')).toBe(jemalloc)
    expect(node.env.get('MALLOC_CONF')).toBe(jemalloc ? JEMALLOC_CONF : undefined)
    expect(maps.includes('libjemalloc')).toBe(jemalloc !== undefined)
    const exited = new Promise<number | null>((r) => launcher.once('exit', (code) => r(code)))
    launcher.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(alive(nodePid)).toBe(false)
    expect(await readRuntimeInfo(dir)).toBeUndefined() // a clean stop removes node.json
  })

  it("a terminal's Ctrl-C (SIGINT to both, then forwarded) is one clean stop", async () => {
    const { launcher, nodePid, dir } = await launch()
    const exited = new Promise<number | null>((r) => launcher.once('exit', (code) => r(code)))
    process.kill(nodePid, 'SIGINT')
    launcher.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(await readRuntimeInfo(dir)).toBeUndefined()
  })

  it('a node whose launcher is SIGKILLed stops by itself and leaves its store whole', async () => {
    const { launcher, nodePid, dir } = await launch()
    launcher.kill('SIGKILL')
    await waitFor('the orphaned node to stop', () => !alive(nodePid))
    expect(await readRuntimeInfo(dir)).toBeUndefined()
    // The store's lock is free and the replica verifies.
    const r = await runCli(['verify', '--dir', dir])
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
  })
})
