// SIGHUP to a real `ehrlog node start` (launcher and node process, bin/relaunch.js): the
// launcher forwards it, the node re-reads its certificate, and both keep running.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readRuntimeInfo } from '../../node/node.ts'
import { initNetwork, waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { httpsRequest, makeCertificate } from '../helpers/tls-cert.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ehrlog.js')

describe.runIf(process.platform === 'linux')('SIGHUP to a running node', () => {
  const tempDir = useTempDirs()
  const launched: ChildProcess[] = []
  const nodePids: number[] = []
  afterEach(async () => {
    for (const launcher of launched.splice(0)) {
      const exited = new Promise((r) => launcher.once('exit', r))
      if (launcher.exitCode === null && launcher.signalCode === null) {
        launcher.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
      }
      launcher.kill('SIGKILL')
    }
    for (const pid of nodePids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })

  it('reloads the certificate through the launcher, and the node keeps serving', async () => {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const dir = dirs[0]!
    const first = await makeCertificate(dir, 'first')
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.http = { ...config.http, tls: { cert: 'live.crt', key: 'live.key' } }
    await writeFile(path, JSON.stringify(config), { mode: 0o600 })
    await writeFile(join(dir, 'live.crt'), first.certPem)
    await writeFile(join(dir, 'live.key'), await readFile(first.keyFile))

    const env: Record<string, string | undefined> = { ...process.env }
    delete env.MALLOC_MMAP_THRESHOLD_ // so that the launcher runs the node as its child
    const launcher = spawn(process.execPath, [BIN, 'node', 'start', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    })
    launched.push(launcher)
    let stderr = ''
    let stdout = '' // the node's JSON log
    launcher.stderr!.on('data', (d) => {
      stderr += d
    })
    launcher.stdout!.on('data', (d) => {
      stdout += d
    })
    let url = ''
    await waitFor('node.json', async () => {
      if (launcher.exitCode !== null) throw new Error(`launcher exited: ${stderr}`)
      const info = await readRuntimeInfo(dir)
      if (info) {
        nodePids.push(info.pid)
        url = info.http
      }
      return info !== undefined
    })
    expect(url).toMatch(/^https:/)
    expect((await httpsRequest(`${url}/healthz`, first.certPem)).fingerprint256).toBe(
      first.fingerprint256,
    )

    const second = await makeCertificate(dir, 'second')
    await writeFile(join(dir, 'live.crt'), second.certPem)
    await writeFile(join(dir, 'live.key'), await readFile(second.keyFile))
    launcher.kill('SIGHUP')
    await waitFor('the renewed certificate', async () => {
      const answer = await httpsRequest(`${url}/healthz`, second.certPem).catch(() => undefined)
      return answer?.fingerprint256 === second.fingerprint256
    })
    expect(launcher.exitCode).toBeNull()
    await waitFor('the log line', () => stdout.includes('HTTPS certificate and key reloaded'))
  })
})
