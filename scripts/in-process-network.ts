import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { localNodeName } from '../client/commands/network.ts'
import { main } from '../client/main.ts'
import { Membership } from '../node/core/trust/index.ts'
import { silentLogger } from '../node/logger.ts'
import { EhrlogNode, type NodeOptions } from '../node/node.ts'

/*
 * Networks of in-process nodes on loopback, for the tests and the benchmarks: `ehrlog network
 * init` into a temp folder, then nodes started in this process.
 */

/** A free-ish base port per call: node i uses base+2i and base+2i+1. */
export function basePort(): number {
  // Below the ephemeral range (32768+ on Linux), so an outgoing connection never holds it.
  // Test files running side by side (vitest workers 1, 2, …) draw from disjoint slots.
  const worker = Number(process.env.VITEST_POOL_ID ?? 1)
  const lanes = 4
  const lane = (Number.isInteger(worker) && worker > 0 ? worker - 1 : 0) % lanes
  return 10_000 + (Math.floor(Math.random() * (900 / lanes)) * lanes + lane) * 10
}

/** `ehrlog network init` into `dir`; returns the node folders and the membership. */
export async function initNetwork(
  dir: string,
  nodes = 3,
): Promise<{ dirs: string[]; membership: Membership }> {
  let err = ''
  const code = await main(
    ['network', 'init', '--dir', dir, '--nodes', String(nodes), '--base-port', String(basePort())],
    { out: () => {}, err: (text) => (err += text), env: {} },
  )
  if (code !== 0) throw new Error(`network init failed: ${err}`)
  const membership = Membership.parse(await readFile(join(dir, 'network.json'), 'utf8'))
  return { dirs: Array.from({ length: nodes }, (_, i) => join(dir, localNodeName(i))), membership }
}

/** Starts in-process nodes (real libp2p, LevelDB, HTTP on loopback) with quiet logs. */
export async function startNodes(
  dirs: string[],
  opts: Partial<NodeOptions> = {},
): Promise<EhrlogNode[]> {
  const nodes: EhrlogNode[] = []
  try {
    for (const dir of dirs) {
      const node = new EhrlogNode({
        dir,
        logger: silentLogger(),
        syncIntervalMs: 1000,
        checkpointIntervalMs: 0,
        ...opts,
      })
      nodes.push(node)
      await node.start()
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()))
    throw err
  }
  return nodes
}

/** Polls `check` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
