import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { nodeProcessEnv } from '../bin/relaunch.js'
import { EhrlogError } from '../node/core/errors.ts'
import { type RuntimeInfo, readRuntimeInfo } from '../node/identity/index.ts'
import { sourceUrl } from '../node/threads/source-root.ts'

/** bin/ehrlog.js, from the sources or from a benchmark's bundle (dist/bench/) alike. */
const BIN = fileURLToPath(sourceUrl('bin/ehrlog.js'))

export interface NodeProcess {
  dir: string
  child: ChildProcess
  info: RuntimeInfo
  /** SIGTERM, then wait for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>
}

/**
 * Runs `ehrlog node start --dir DIR` as its own OS process, logs to `logFile`, and waits
 * until the node has written DIR/node.json (its HTTP address), or fails after `timeoutMs`.
 */
export async function spawnNode(
  dir: string,
  opts: { logFile: string; timeoutMs?: number; env?: Record<string, string>; args?: string[] },
): Promise<NodeProcess> {
  const log = createWriteStream(opts.logFile, { flags: 'a' })
  const child = spawn(
    process.execPath,
    [BIN, 'node', 'start', '--dir', dir, ...(opts.args ?? [])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // With the allocator `ehrlog node start` would give it (bin/relaunch.js), minus the
      // launcher: the node is this child, so its pid is the one node.json names and a test kills.
      env: { ...nodeProcessEnv(), ...opts.env },
    },
  )
  child.stdout!.pipe(log)
  child.stderr!.pipe(log)
  let exited: number | null | undefined
  child.once('exit', (code) => {
    exited = code
  })
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  let info: RuntimeInfo | undefined
  while (!info) {
    if (exited !== undefined)
      throw new EhrlogError(
        'UNAVAILABLE',
        `node in ${dir} exited with code ${exited} while starting; see ${opts.logFile}`,
      )
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new EhrlogError(
        'UNAVAILABLE',
        `node in ${dir} did not start in time; see ${opts.logFile}`,
      )
    }
    await new Promise((r) => setTimeout(r, 100))
    const found = await readRuntimeInfo(dir)
    if (found?.pid === child.pid) info = found
  }
  return {
    dir,
    child,
    info,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await gone
      clearTimeout(timer)
      log.end()
    },
  }
}
