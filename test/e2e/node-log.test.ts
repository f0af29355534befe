import { spawn } from 'node:child_process'
import { createWriteStream, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { nodeProcessEnv } from '../../bin/relaunch.js'
import { RUNTIME_FILE } from '../../node/identity/index.ts'
import { sourceUrl } from '../../node/threads/source-root.ts'
import { useLocalNetworks } from './harness.ts'

describe('the log stream of a node process', () => {
  const createNetwork = useLocalNetworks()

  it('is JSON lines only, each with an ISO 8601 time', async () => {
    const net = await createNetwork({ nodes: 1, fileIndex: 5 })
    const m = await net.start('hospital-a')
    await net.stop('hospital-a')
    // stdout and stderr of `ehrlog node start`, as journald would collect them.
    const lines = (await readFile(m.logFile, 'utf8')).split('\n').filter((l) => l !== '')
    expect(lines.length).toBeGreaterThan(2)
    for (const line of lines) {
      let parsed: { time?: unknown; msg?: unknown }
      try {
        parsed = JSON.parse(line)
      } catch {
        throw new Error(`not a JSON line: ${line}`)
      }
      expect(parsed.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }
    expect(lines.some((l) => JSON.parse(l).msg === 'node started')).toBe(true)
  }, 60_000)

  // node.json tells a supervisor (or a script) that the node is up, and it is written while
  // start() still runs: a SIGTERM at that moment must stop the node cleanly, with exit code 0,
  // not end the process by the signal's default action.
  it('stops cleanly on a SIGTERM sent the moment node.json appears', async () => {
    const net = await createNetwork({ nodes: 1, fileIndex: 5 })
    const m = net.member('hospital-a')
    const log = createWriteStream(m.logFile, { flags: 'a' })
    const child = spawn(
      process.execPath,
      [fileURLToPath(sourceUrl('bin/ehrlog.js')), 'node', 'start', '--dir', m.dir],
      { stdio: ['ignore', 'pipe', 'pipe'], env: nodeProcessEnv() },
    )
    child.stdout.pipe(log)
    child.stderr.pipe(log)
    const watcher = watch(m.dir, (_event, file) => {
      if (file === RUNTIME_FILE && child.exitCode === null) child.kill('SIGTERM')
    })
    try {
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
        child.once('exit', (c, s) => resolve([c, s])),
      )
      expect({ code, signal }).toEqual({ code: 0, signal: null })
      await new Promise((resolve) => log.end(resolve))
      const messages = (await readFile(m.logFile, 'utf8'))
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l).msg)
      const listening = messages.findIndex((msg) => msg?.startsWith('HTTP API listening'))
      expect(listening).toBeGreaterThanOrEqual(0)
      expect(messages.indexOf('stopping')).toBeGreaterThan(listening)
      expect(messages.at(-1)).toBe('node stopped')
    } finally {
      watcher.close()
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }, 60_000)
})
