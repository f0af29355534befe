import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import type { EncodedEntry } from '../../node/core/entry.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { IntegrityIncident } from '../../node/integrity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

export const A = 'hospital-a'
export const B = 'hospital-b'
export const C = 'hospital-c'

/**
 * Three in-process nodes (real libp2p, LevelDB) whose integrity incidents are collected per
 * node name; a stopped node's store can be damaged with the Tamperer, then the node restarted.
 */
export function useIntegrityNetwork() {
  const tempDir = useTempDirs()
  const running = new Map<string, EhrlogNode>()
  const incidents = new Map<string, IntegrityIncident[]>()
  let dirs: string[] = []
  afterEach(async () => {
    await Promise.all([...running.values()].map((n) => n.stop()))
    running.clear()
    incidents.clear()
  })

  const start = async (i: number, options: { tailWaitMs?: number } = {}): Promise<EhrlogNode> => {
    const name = [A, B, C][i]!
    const [node] = await startNodes([dirs[i]!], {
      ...options,
      onIntegrityIncident: (incident) => incidents.get(name)?.push(incident),
    })
    incidents.set(name, incidents.get(name) ?? [])
    running.set(name, node!)
    return node!
  }

  return {
    node: (name: string): EhrlogNode => running.get(name)!,
    dir: (name: string): string => dirs[[A, B, C].indexOf(name)]!,
    incidents: (name: string): IntegrityIncident[] => incidents.get(name) ?? [],

    /** Starts three nodes; A appends `batches` batches of 4 events, replicated everywhere. */
    async setUp(batches = 3): Promise<void> {
      ;({ dirs } = await initNetwork(await tempDir()))
      for (let i = 0; i < 3; i++) await start(i)
      await waitFor('a full gossip mesh', () =>
        [...running.values()].every((n) => n.net.peers().filter((p) => p.gossip).length === 2),
      )
      for (let b = 0; b < batches; b++)
        await running.get(A)!.ingest.submit([0, 1, 2, 3].map((i) => makeEvent(b * 4 + i)))
      await waitFor('replication', () =>
        [...running.values()].every((n) => n.store.size(A) === batches * 4),
      )
    },

    /** A checkpoint round, stored by every node. */
    async checkpoint(): Promise<void> {
      const cosigned = await running.get(A)!.checkpoints.runRound()
      await waitFor('every node to store the checkpoint', () =>
        [...running.values()].every(
          (n) => n.checkpoints.latest()?.checkpoint.timeMs === cosigned.checkpoint.timeMs,
        ),
      )
    },

    /** Stops `name`, lets `fn` damage its replica of `origin`, and starts it again. */
    async tamperAndRestart(
      name: string,
      origin: string,
      fn: (t: Tamperer, signingKey: import('node:crypto').KeyObject) => Promise<unknown>,
      options: { tailWaitMs?: number } = {},
    ): Promise<EhrlogNode> {
      await running.get(name)!.stop()
      running.delete(name)
      const dir = dirs[[A, B, C].indexOf(name)]!
      const identity = await openNodeDir(dir)
      const t = new Tamperer(join(dir, identity.config.dataDir), identity.storeKeys, origin)
      await t.open()
      try {
        await fn(t, identity.signingKey)
      } finally {
        await t.close()
      }
      return start([A, B, C].indexOf(name), options)
    },

    start: (name: string): Promise<EhrlogNode> => start([A, B, C].indexOf(name)),

    /**
     * Sends `name`'s alerts to `admin` through the SMTP server on 127.0.0.1:`port` from its
     * next start (config.json `alerts`).
     */
    async withAdmins(name: string, port: number, admin = 'it-security@hospital.example') {
      const path = join(dirs[[A, B, C].indexOf(name)]!, 'config.json')
      const config = JSON.parse(await readFile(path, 'utf8'))
      config.alerts = {
        admins: [admin],
        smtp: {
          host: '127.0.0.1',
          port,
          secure: false,
          requireTLS: false,
          from: 'ehrlog@x.example',
        },
      }
      await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 })
    },

    async stop(name: string): Promise<void> {
      await running.get(name)?.stop()
      running.delete(name)
    },
  }
}

/** Every entry of `origin` in `node`'s replica, in seq order. */
export async function entriesOf(node: EhrlogNode, origin: string): Promise<EncodedEntry[]> {
  const out: EncodedEntry[] = []
  for await (const e of node.store.entries(origin)) out.push(e)
  return out
}

export { waitFor }
