import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { runCli } from '../helpers/cli.ts'
import { type QueryNetwork, startQueryNetwork } from '../query/network-world.ts'

describe('log and verify on the folder of a running node', () => {
  let world: QueryNetwork
  let env: Record<string, string>

  beforeAll(async () => {
    world = await startQueryNetwork()
    env = { EHRLOG_CONFIG_DIR: join(world.root, 'config-admin') }
    await saveSession({ env } as unknown as CliContext, {
      v: 1,
      node: world.nodes[0]!.httpUrl,
      username: 'admin@hospital-a',
      token: world.tokens.admin!,
      role: 'admin',
      expiresMs: Date.now() + 3600_000,
    })
  }, 60_000)

  afterAll(async () => {
    await Promise.all((world?.nodes ?? []).map((n) => n.stop()))
    if (world) await rm(world.root, { recursive: true, force: true })
  })

  it('log reads through the node with the session: verified, and no STORE_LOCKED', async () => {
    const dir = world.dirs[0]!
    const log = await runCli(['log', '--dir', dir, '--patient', 'MRN-A'], env)
    expect(log.err).not.toMatch(/STORE_LOCKED/)
    expect(log.code, log.err).toBe(0)
    expect(log.out).toMatch(/^verified: cosigned by \d of 3 nodes/m)
    expect(log.out).toContain('MRN-A')
    expect(log.out).not.toContain('MRN-B')
    const json = await runCli(['log', '--dir', dir, '--patient', 'MRN-A', '--json'], env)
    expect(json.code, json.err).toBe(0)
    expect(() => JSON.parse(json.out)).not.toThrow()
  })

  it('verify asks the node, and checks the checkpoint it names against network.json', async () => {
    const verify = await runCli(['verify', '--dir', world.dirs[1]!])
    expect(verify.code, verify.err).toBe(0)
    expect(verify.out).toMatch(/^intact: /)
    expect(verify.out).toMatch(/checked against the latest checkpoint, verified: cosigned by/)
  })
})
