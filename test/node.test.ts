import { access, readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseNodeConfigText } from '../node/identity/config.ts'
import { silentLogger } from '../node/logger.ts'
import { EhrlogNode, RUNTIME_FILE } from '../node/node.ts'
import { initNetwork } from '../scripts/in-process-network.ts'
import { useTempDirs } from './helpers/temp-dir.ts'

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Throws unless `port` on `host` can be taken (and gives it back). */
async function expectFree(port: number, host: string): Promise<void> {
  await close(await listen(port, host))
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

describe('EhrlogNode lifecycle', () => {
  const tempDir = useTempDirs()

  it('a failed start releases every part it started; stop is idempotent', async () => {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const dir = dirs[0]!
    const config = parseNodeConfigText(await readFile(join(dir, 'config.json'), 'utf8'))
    const p2pPort = Number(/\/tcp\/(\d+)/.exec(config.listen[0]!)![1])
    // HTTP starts after the store, alerts, checkpoints (a BLS worker), network and integrity:
    // a taken HTTP port fails the start late, with all of those to release.
    const blocker = await listen(config.http.port, config.http.host)
    const options = { dir, logger: silentLogger(), checkpointIntervalMs: 0, syncIntervalMs: 1000 }
    const failed = new EhrlogNode(options)
    try {
      await expect(failed.start()).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    } finally {
      await close(blocker)
    }
    await expectFree(p2pPort, '127.0.0.1') // the network's port
    expect(await exists(join(dir, RUNTIME_FILE))).toBe(false)
    expect(() => failed.store).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }))
    await failed.stop()
    await failed.stop()
    await expect(failed.start()).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' })

    // The LevelDB lock was released: the same folder starts again, in this process.
    const node = new EhrlogNode(options)
    const info = await node.start()
    expect(info.http).toBe(node.httpUrl)
    expect(await exists(join(dir, RUNTIME_FILE))).toBe(true)
    await Promise.all([node.stop(), node.stop()])
    await node.stop()
    expect(await exists(join(dir, RUNTIME_FILE))).toBe(false)
    await expectFree(p2pPort, '127.0.0.1')
    await expectFree(config.http.port, config.http.host)

    // A stop called during start waits for the start, then releases everything.
    const early = new EhrlogNode(options)
    const starting = early.start()
    const stopping = early.stop()
    await starting
    await stopping
    expect(await exists(join(dir, RUNTIME_FILE))).toBe(false)
    await expectFree(p2pPort, '127.0.0.1')
    await expectFree(config.http.port, config.http.host)
  })
})
