import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../node/fs/atomic-write.ts'
import { initNodeDir } from '../../node/identity/index.ts'
import { openKeysFile, parseKeysFile, sealKeysFile } from '../../node/identity/keys-file.ts'
import { parseMasterKey } from '../../node/identity/master-key.ts'
import { useTempDirs } from './fixtures.ts'

const tempDir = useTempDirs()

describe('keys.enc', () => {
  const keys = {
    ed25519Seed: new Uint8Array(32).fill(1),
    libp2pPrivateKey: new Uint8Array([8, 1, 18, 64, ...new Uint8Array(64).fill(2)]),
    blsSecretKey: new Uint8Array(32).fill(3),
    createdAt: '2025-01-02T03:04:05.000Z',
  }
  const master = new Uint8Array(32).fill(9)

  it('round-trips under the same master secret and fails under another', () => {
    const header = parseKeysFile(sealKeysFile(keys, master, 'file'))
    expect(openKeysFile(header, master)).toEqual(keys)
    expect(openKeysFile(header, new Uint8Array(32).fill(8))).toBeUndefined()
  })

  it('uses a fresh nonce each time', () => {
    const a = parseKeysFile(sealKeysFile(keys, master, 'file'))
    const b = parseKeysFile(sealKeysFile(keys, master, 'file'))
    expect(a.nonce).not.toBe(b.nonce)
  })

  it('records the creation time from the injected clock', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, { name: 'a', now: () => new Date('2030-05-06T07:08:09Z') })
    const master = parseMasterKey(await readFile(join(dir, 'master.key'), 'utf8'))
    const header = parseKeysFile(await readFile(join(dir, 'keys.enc'), 'utf8'))
    expect(openKeysFile(header, master)?.createdAt).toBe('2030-05-06T07:08:09.000Z')
  })
})

describe('writeFileAtomic', () => {
  it('never replaces an existing file in no-clobber mode and leaves no temp file', async () => {
    const dir = await tempDir()
    const path = join(dir, 'master.key')
    await writeFile(path, 'original')
    const err = await writeFileAtomic(path, 'new', { mode: 0o600, noClobber: true }).catch((e) => e)
    expect((err as NodeJS.ErrnoException).code).toBe('EEXIST')
    expect(await readFile(path, 'utf8')).toBe('original')
    expect(await readdir(dir)).toEqual(['master.key'])
  })

  it('replaces atomically otherwise', async () => {
    const dir = await tempDir()
    const path = join(dir, 'x.json')
    await writeFileAtomic(path, 'one', { mode: 0o644 })
    await writeFileAtomic(path, 'two', { mode: 0o644 })
    expect(await readFile(path, 'utf8')).toBe('two')
    expect(await readdir(dir)).toEqual(['x.json'])
  })
})
