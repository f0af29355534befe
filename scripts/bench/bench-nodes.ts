// What the benchmarks that run real node processes and govern them share: a hospital as the
// bench holds it, a free loopback port for a node, and the CLI run in-process.
import { chmod, copyFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { main } from '../../client/main.ts'
import { type Admin, createAdmin } from '../governance-cli.ts'
import type { NodeProcess } from '../local-network.ts'

/** A hospital of a benchmark network: its folder, its admin, and its process once started. */
export interface Hospital {
  name: string
  dir: string
  admin: Admin
  process?: NodeProcess
}

/** A free loopback port (taken by the OS, released for the node). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** `ehrlog ARGS` in this process; throws with its error output when it fails. */
export async function cli(args: string[]): Promise<void> {
  let err = ''
  const code = await main(args, { out: () => {}, err: (t) => (err += t), env: {} })
  if (code !== 0) throw new Error(`ehrlog ${args.join(' ')}: ${err}`)
}

/**
 * A joining hospital's folder as its IT team makes it: `ehrlog init` on free loopback ports,
 * the genesis network.json and the network's index key copied in, and its admin created.
 */
export async function prepareJoiningFolder(
  d: Hospital,
  genesisFile: string,
  indexKeyFile: string,
): Promise<void> {
  const [p2p, http] = [await freePort(), await freePort()]
  await cli([
    'init',
    '--dir',
    d.dir,
    '--name',
    d.name,
    '--listen',
    `/ip4/127.0.0.1/tcp/${p2p}`,
    '--http-port',
    String(http),
  ])
  await copyFile(genesisFile, join(d.dir, 'network.json'))
  await copyFile(indexKeyFile, join(d.dir, 'index.key'))
  await chmod(join(d.dir, 'index.key'), 0o600)
  await createAdmin(d.admin, d.dir, `Admin of ${d.name}`)
}
