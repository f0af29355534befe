import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const tempDir = useTempDirs()

async function init(dir: string, name: string, ...extra: string[]) {
  const result = await runCli(['init', '--dir', dir, '--name', name, ...extra])
  expect(result.err).toBe('')
  expect(result.code).toBe(0)
}

describe('ehrlog init and network assemble: addresses', () => {
  it('init refuses a wildcard --listen without --announce and says what to add', async () => {
    const dir = join(await tempDir(), 'a')
    const { code, err } = await runCli([
      'init',
      '--dir',
      dir,
      '--name',
      'hospital-a',
      '--listen',
      '/ip4/0.0.0.0/tcp/7400',
    ])
    expect(code).toBe(2)
    expect(err).toMatch(/^ARGUMENT_INVALID: no listen address other nodes can dial/)
    expect(err).toContain('add --announce /ip4/')
    await expect(readdir(dir)).rejects.toThrow() // nothing created
  })

  it('init takes repeated --announce and publishes them', async () => {
    const dir = join(await tempDir(), 'a')
    await init(
      dir,
      'hospital-a',
      '--listen',
      '/ip4/0.0.0.0/tcp/7400',
      '--announce',
      '/ip4/203.0.113.7/tcp/7400',
      '--announce',
      '/dns4/ehrlog.hospital-a.example/tcp/7400',
    )
    const identity = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8'))
    expect(identity.addresses).toEqual([
      '/ip4/203.0.113.7/tcp/7400',
      '/dns4/ehrlog.hospital-a.example/tcp/7400',
    ])
  })

  it('assemble refuses a member without a dialable address, naming it, and writes nothing', async () => {
    const root = await tempDir()
    await init(join(root, 'a'), 'hospital-a')
    await init(join(root, 'b'), 'hospital-b')
    const identityFile = join(root, 'b', 'identity.json')
    const out = join(root, 'network.json')
    for (const addresses of [[], ['/ip4/0.0.0.0/tcp/7400']]) {
      // An identity.json from an older version, or edited by hand.
      const identity = JSON.parse(await readFile(identityFile, 'utf8'))
      await writeFile(identityFile, JSON.stringify({ ...identity, addresses }))
      const result = await runCli([
        'network',
        'assemble',
        '--out',
        out,
        join(root, 'a'),
        join(root, 'b'),
      ])
      expect(result.code).toBe(2)
      expect(result.err).toMatch(/^CONFIG_INVALID: member hospital-b \(/)
      expect(result.err).toMatch(/cannot be dialed|no address other nodes can dial/)
      expect(await readdir(root)).not.toContain('network.json')
    }
  })
})
