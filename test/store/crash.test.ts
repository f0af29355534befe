import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const BATCH = 250
const child = join(import.meta.dirname, 'fixtures', 'append-child.ts')

describe('crash safety', () => {
  const tempDir = useTempDirs()

  it('a store killed with SIGKILL mid-append reopens clean, holding only whole batches', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    const signer = makeSigner('hospital-a')
    const pkcs8 = signer.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('hex')
    const args = [
      '--import',
      'tsx',
      child,
      path,
      Buffer.from(keys.valueKey).toString('hex'),
      Buffer.from(keys.indexKey).toString('hex'),
      pkcs8,
      String(BATCH),
    ]
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let acknowledged = 0
    await new Promise<void>((resolve, reject) => {
      proc.on('error', reject)
      proc.stdout.on('data', (chunk: Buffer) => {
        const sizes = chunk.toString().trim().split('\n').map(Number)
        acknowledged = Math.max(acknowledged, ...sizes)
        // Kill while writes are in full flow, at a moment not tied to a batch boundary.
        if (acknowledged >= 20 * BATCH) {
          proc.kill('SIGKILL')
          resolve()
        }
      })
    })
    await new Promise((resolve) => proc.once('exit', resolve))
    expect(proc.signalCode).toBe('SIGKILL')

    const store = openStore(path, keys, [signer])
    await store.open()
    const size = store.size('hospital-a')
    expect(size).toBeGreaterThanOrEqual(acknowledged) // nothing acknowledged was lost
    expect(size % BATCH).toBe(0) // no half batch
    const report = await store.verify()
    expect(report.problems).toEqual([])
    expect(report.entriesChecked).toBe(size)
    // The store keeps working after the crash.
    await store.appendEvents(signer, [(await store.getEntry('hospital-a', 1))!.entry.body as never])
    expect(store.size('hospital-a')).toBe(size + 1)
    await store.close()
  })
})
