import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type NodeProcess, spawnNode } from '../../scripts/local-network.ts'
import { runCli } from '../helpers/cli.ts'
import { waitFor } from './node-api.ts'

/**
 * The operations guide's way to build a network (docs/operations.md, "Assembling a network"):
 * an `init` per hospital, `network assemble` over their identity.json files, the same
 * network.json in every folder, then `node start` in each, as separate processes.
 */
describe('three nodes assembled from three inits', () => {
  const roots: string[] = []
  const nodes: NodeProcess[] = []
  afterEach(async () => {
    for (const p of nodes.splice(0)) {
      await p.stop(15_000)
      expect(p.child.exitCode, `node in ${p.dir}`).toBe(0)
    }
    await Promise.all(roots.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  })

  it('connect and cosign checkpoints (two nodes with --announce, one with the default)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ehrlog-assemble-'))
    roots.push(root)
    const [portA, portB] = [await freePort(), await freePort()]
    const dirs = ['a', 'b', 'c'].map((n) => join(root, n))
    const inits = [
      ['--listen', `/ip4/127.0.0.1/tcp/${portA}`, '--announce', `/ip4/127.0.0.1/tcp/${portA}`],
      ['--listen', `/ip4/127.0.0.1/tcp/${portB}`, '--announce', `/ip4/127.0.0.1/tcp/${portB}`],
      [], // the reproduction: no --listen at all
    ]
    for (const [i, extra] of inits.entries()) {
      const name = `hospital-${'abc'[i]}`
      const init = await runCli(['init', '--dir', dirs[i]!, '--name', name, ...extra])
      expect(init.err).toBe('')
      expect(init.code).toBe(0)
      expect(init.out).toMatch(/others dial +\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
    }
    const networkFile = join(root, 'network.json')
    const assemble = await runCli(['network', 'assemble', '--out', networkFile, ...dirs])
    expect(assemble.err).toBe('')
    expect(assemble.code).toBe(0)
    expect(assemble.out).toMatch(/made the network's index key .*index\.key: SECRET/)
    for (const dir of dirs) {
      await copyFile(networkFile, join(dir, 'network.json'))
      await copyFile(join(root, 'index.key'), join(dir, 'index.key'))
      await chmod(join(dir, 'index.key'), 0o600)
    }

    for (const [i, dir] of dirs.entries())
      nodes.push(await spawnNode(dir, { logFile: join(root, `${'abc'[i]}.log`) }))

    // Every node sees both others connected, with the address it dialed or was dialed from.
    for (const dir of dirs) {
      await waitFor(
        `${dir} to be connected to both other members`,
        async () => {
          const { out } = await runCli(['status', '--dir', dir, '--json'])
          const members = (JSON.parse(out) as { members: Array<{ connected: boolean }> }).members
          return { done: members.length === 2 && members.every((m) => m.connected), value: out }
        },
        30_000,
        500,
      )
    }
    const status = await runCli(['status', '--dir', dirs[0]!])
    expect(status.out).toMatch(/hospital-b +connected +\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
    expect(status.out).not.toContain('none connected')

    // Each node holds a cosigned checkpoint, verified by the CLI against network.json (a round
    // closes with the first quorum: 2 of 3).
    const signers = new Set<string>()
    for (const dir of dirs) {
      const verdict = await waitFor<string[]>(
        `a cosigned checkpoint at ${dir}`,
        async () => {
          const { code, out, err } = await runCli(['checkpoint', '--dir', dir, '--json'])
          if (code !== 0) return { done: false, value: [err] }
          const parsed = JSON.parse(out) as { verified: boolean; signers: string[] }
          return { done: parsed.verified && parsed.signers.length >= 2, value: parsed.signers }
        },
        60_000,
        1000,
      )
      for (const s of verdict) signers.add(s)
    }
    expect(signers.size).toBeGreaterThanOrEqual(2)
  }, 120_000)
})

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
