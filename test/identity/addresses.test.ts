import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  initNodeDir,
  parseNodeConfigText,
  readPublicIdentity,
  undialableReason,
} from '../../node/identity/index.ts'
import { rejection, useTempDirs } from './fixtures.ts'

const tempDir = useTempDirs()

describe('init: the addresses other nodes dial', () => {
  it('refuses a wildcard listen address without --announce, says what to add, writes nothing', async () => {
    const dir = await tempDir()
    for (const listen of ['/ip4/0.0.0.0/tcp/7400', '/ip6/::/tcp/7400']) {
      const err = await rejection(
        initNodeDir(dir, { name: 'hospital-a', listen: [listen] }),
        'ARGUMENT_INVALID',
      )
      expect(err.details.field).toBe('listen')
      expect(err.message).toContain('add --announce /ip4/')
      expect(err.message).toContain('/tcp/7400')
    }
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses an ephemeral port (tcp/0) without --announce, asking for a fixed port', async () => {
    const dir = await tempDir()
    const err = await rejection(
      initNodeDir(dir, { name: 'hospital-a', listen: ['/ip4/127.0.0.1/tcp/0'] }),
      'ARGUMENT_INVALID',
    )
    expect(err.message).toContain('port 0')
    expect(err.message).toContain('--listen /ip4/0.0.0.0/tcp/7400')
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses an announce address that cannot be dialed', async () => {
    const dir = await tempDir()
    for (const announce of ['/ip4/0.0.0.0/tcp/7400', '/dns4/node.example/tcp/0']) {
      const err = await rejection(
        initNodeDir(dir, {
          name: 'hospital-a',
          listen: ['/ip4/0.0.0.0/tcp/7400'],
          announce: [announce],
        }),
        'ARGUMENT_INVALID',
      )
      expect(err.details.field).toBe('announce.0')
    }
    const bad = await rejection(
      initNodeDir(dir, { name: 'hospital-a', announce: ['/ip4/1.2.3/tcp/1'] }),
      'ARGUMENT_INVALID',
    )
    expect(bad.details.field).toBe('announce.0')
    expect(await readdir(dir)).toEqual([])
  })

  it('publishes the announced addresses and writes them into config.json', async () => {
    const dir = await tempDir()
    const announce = ['/ip4/203.0.113.7/tcp/7400', '/dns4/ehrlog.hospital-a.example/tcp/7400']
    const identity = await initNodeDir(dir, {
      name: 'hospital-a',
      listen: ['/ip4/0.0.0.0/tcp/7400'],
      announce,
    })
    expect(identity.addresses).toEqual(announce)
    expect((await readPublicIdentity(dir)).addresses).toEqual(announce)
    const config = parseNodeConfigText(await readFile(join(dir, 'config.json'), 'utf8'))
    expect(config.listen).toEqual(['/ip4/0.0.0.0/tcp/7400'])
    expect(config.announce).toEqual(announce)
  })

  it('uses a concrete listen address as it is', async () => {
    const identity = await initNodeDir(await tempDir(), {
      name: 'hospital-a',
      listen: ['/ip4/127.0.0.1/tcp/7400'],
    })
    expect(identity.addresses).toEqual(['/ip4/127.0.0.1/tcp/7400'])
  })

  it('without --listen fixes a free loopback port, different per node', async () => {
    const a = await initNodeDir(await tempDir(), { name: 'hospital-a' })
    const b = await initNodeDir(await tempDir(), { name: 'hospital-b' })
    expect(a.addresses[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(a.addresses).not.toEqual(b.addresses)
  })

  it('names why an address cannot be dialed', () => {
    expect(undialableReason('/ip4/0.0.0.0/tcp/1')).toContain('wildcard')
    expect(undialableReason('/ip6/::/tcp/1')).toContain('wildcard')
    expect(undialableReason('/ip4/10.0.0.5/tcp/0')).toContain('port 0')
    expect(undialableReason('/ip6/::1/tcp/7400')).toBeUndefined()
    expect(undialableReason('/dns4/a.example/tcp/7400')).toBeUndefined()
  })
})
