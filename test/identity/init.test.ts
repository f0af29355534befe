import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyBlsProofOfPossession } from '../../node/core/bls.ts'
import { fromHex } from '../../node/core/hex.ts'
import {
  initNodeDir,
  openNodeDir,
  type PublicIdentity,
  parseNodeConfigText,
  readPublicIdentity,
} from '../../node/identity/index.ts'
import { rejection, snapshot, TEST_SCRYPT_N, useTempDirs } from './fixtures.ts'

const tempDir = useTempDirs()
const modeOf = async (path: string) => (await stat(path)).mode & 0o777

describe('initNodeDir', () => {
  it('writes config, identity and secrets with the right modes', async () => {
    const dir = await tempDir()
    const identity = await initNodeDir(dir, { name: 'hospital-a' })

    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'identity.json',
      'keys.enc',
      'master.key',
    ])
    expect(await modeOf(join(dir, 'master.key'))).toBe(0o600)
    expect(await modeOf(join(dir, 'keys.enc'))).toBe(0o600)
    // config.json holds the API bearer token.
    expect(await modeOf(join(dir, 'config.json'))).toBe(0o600)
    expect(await modeOf(join(dir, 'identity.json'))).toBe(0o644)

    expect(await readPublicIdentity(dir)).toEqual(identity)
    expect(identity.name).toBe('hospital-a')
    expect(identity.ed25519PublicKey).toMatch(/^[0-9a-f]{64}$/)
    expect(identity.peerId).toMatch(/^12D3KooW/)
    const blsKey = fromHex(identity.blsPublicKey, 48) as Uint8Array
    const pop = fromHex(identity.blsProofOfPossession, 96) as Uint8Array
    expect(verifyBlsProofOfPossession(blsKey, pop)).toBe(true)
    // Without --listen: a loopback port free at init, fixed in config.json and published.
    expect(identity.addresses).toHaveLength(1)
    expect(identity.addresses[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9][0-9]*$/)

    const config = parseNodeConfigText(await readFile(join(dir, 'config.json'), 'utf8'))
    expect(config).toMatchObject({
      name: 'hospital-a',
      listen: identity.addresses,
      announce: [],
      http: { host: '127.0.0.1', port: 0 },
      alerts: { admins: [] },
      dataDir: 'db',
    })
    expect(config.apiToken).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await readFile(join(dir, 'master.key'), 'utf8')).toMatch(
      /^ehrlog-master-key-v1\n[0-9a-f]{64}\n$/,
    )
  })

  it('gives every node fresh keys and tokens', async () => {
    const a = await initNodeDir(await tempDir(), { name: 'hospital-a' })
    const b = await initNodeDir(await tempDir(), { name: 'hospital-a' })
    expect(a.ed25519PublicKey).not.toBe(b.ed25519PublicKey)
    expect(a.peerId).not.toBe(b.peerId)
    expect(a.blsPublicKey).not.toBe(b.blsPublicKey)
  })

  it('publishes only dialable listen addresses and takes the HTTP port', async () => {
    const dir = await tempDir()
    const identity = await initNodeDir(dir, {
      name: 'hospital-b',
      listen: ['/ip4/10.0.0.5/tcp/4001', '/ip4/0.0.0.0/tcp/4001', '/ip6/::1/tcp/0'],
      httpPort: 8080,
    })
    expect(identity.addresses).toEqual(['/ip4/10.0.0.5/tcp/4001'])
    const config = parseNodeConfigText(await readFile(join(dir, 'config.json'), 'utf8'))
    expect(config.http.port).toBe(8080)
    expect(config.listen).toHaveLength(3)
  })

  it('creates a missing folder, including parents', async () => {
    const dir = join(await tempDir(), 'nodes', 'a')
    await initNodeDir(dir, { name: 'a' })
    expect((await readdir(dir)).length).toBe(4)
  })

  it('refuses an initialized folder and changes nothing', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, { name: 'hospital-a' })
    const before = await snapshot(dir)
    const err = await rejection(initNodeDir(dir, { name: 'hospital-a' }), 'ALREADY_INITIALIZED')
    expect(err.details.files).toEqual(['config.json', 'master.key', 'keys.enc', 'identity.json'])
    await rejection(
      initNodeDir(dir, { name: 'hospital-a', passphrase: 'pw', scryptN: TEST_SCRYPT_N }),
      'ALREADY_INITIALIZED',
    )
    expect(await snapshot(dir)).toEqual(before)
  })

  it('lets exactly one of two concurrent inits of a folder win', async () => {
    const dir = await tempDir()
    const results = await Promise.allSettled([
      initNodeDir(dir, { name: 'hospital-a' }),
      initNodeDir(dir, { name: 'hospital-a' }),
    ])
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r) => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect((lost[0] as PromiseRejectedResult).reason.code).toBe('ALREADY_INITIALIZED')
    const winner = (won[0] as PromiseFulfilledResult<PublicIdentity>).value
    expect((await openNodeDir(dir)).identity).toEqual(winner)
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'identity.json',
      'keys.enc',
      'master.key',
    ])
  })

  it('refuses a folder holding any one of the node files', async () => {
    for (const file of ['config.json', 'master.key', 'keys.enc', 'identity.json']) {
      const dir = await tempDir()
      await writeFile(join(dir, file), 'x')
      await rejection(initNodeDir(dir, { name: 'hospital-a' }), 'ALREADY_INITIALIZED')
      expect(await snapshot(dir)).toEqual({ [file]: Buffer.from('x').toString('base64') })
    }
  })

  it('refuses a non-empty folder (e.g. a leftover store)', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'notes.txt'), 'hello')
    const err = await rejection(initNodeDir(dir, { name: 'hospital-a' }), 'ARGUMENT_INVALID')
    expect(err.details.field).toBe('dir')
    expect(await readdir(dir)).toEqual(['notes.txt'])
  })

  it('refuses a bad name, listen address, port or scrypt cost, writing nothing', async () => {
    const dir = await tempDir()
    for (const name of ['Hospital-A', '-a', 'a_b', '', 'a'.repeat(64), 'a.b']) {
      const err = await rejection(initNodeDir(dir, { name }), 'ARGUMENT_INVALID')
      expect(err.details.field).toBe('name')
    }
    const badListen = await rejection(
      initNodeDir(dir, { name: 'a', listen: ['/ip4/1.2.3/tcp/1'] }),
      'ARGUMENT_INVALID',
    )
    expect(badListen.details.field).toBe('listen.0')
    const badPort = await rejection(
      initNodeDir(dir, { name: 'a', httpPort: 70000 }),
      'ARGUMENT_INVALID',
    )
    expect(badPort.details.field).toBe('http.port')
    await rejection(initNodeDir(dir, { name: 'a', passphrase: '' }), 'ARGUMENT_INVALID')
    await rejection(
      initNodeDir(dir, { name: 'a', passphrase: 'pw', scryptN: 1000 }),
      'ARGUMENT_INVALID',
    )
    expect(await readdir(dir)).toEqual([])
  })

  it('in passphrase mode writes no master.key and records the scrypt cost', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, {
      name: 'hospital-a',
      passphrase: 'correct horse',
      scryptN: TEST_SCRYPT_N,
    })
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'identity.json', 'keys.enc'])
    const header = JSON.parse(await readFile(join(dir, 'keys.enc'), 'utf8'))
    expect(header.format).toBe('ehrlog-keys-v1')
    expect(header.kdf).toMatchObject({ name: 'scrypt', N: TEST_SCRYPT_N, r: 8, p: 1 })
    expect(header.kdf.salt).toMatch(/^[0-9a-f]{32}$/)
  })

  it('defaults the scrypt cost to N = 2^15', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, { name: 'hospital-a', passphrase: 'pw' })
    const header = JSON.parse(await readFile(join(dir, 'keys.enc'), 'utf8'))
    expect(header.kdf.N).toBe(2 ** 15)
  })
})
