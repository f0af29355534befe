import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import type { Incident } from '../../node/alerts/index.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import type { EhrlogNode } from '../../node/node.ts'
import type { StatsNodeOptions } from '../../node/stats/index.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

export const NAMES = ['hospital-a', 'hospital-b', 'hospital-c'] as const

/**
 * Three in-process nodes (real libp2p on 127.0.0.1, real LevelDB, real HTTP) counting by the
 * second (stats.json `period: second`) so a test spans several periods in a few seconds; the
 * statistics tick every 200 ms. Incidents are collected per node.
 */
export function useStatsNetwork() {
  const tempDir = useTempDirs()
  const running = new Map<string, EhrlogNode>()
  const incidents = new Map<string, Incident[]>()
  let dirs: string[] = []
  let root = ''
  const faults = new Map<string, StatsNodeOptions['faults']>()
  let extra: Partial<StatsNodeOptions> = {}
  afterEach(async () => {
    await Promise.all([...running.values()].map((n) => n.stop()))
    running.clear()
    incidents.clear()
    faults.clear()
    extra = {}
  })

  const start = async (name: string): Promise<EhrlogNode> => {
    const i = NAMES.indexOf(name as (typeof NAMES)[number])
    const fault = faults.get(name)
    const [node] = await startNodes([dirs[i]!], {
      checkpointIntervalMs: 0,
      stats: {
        tickMs: 200,
        closeDelayMs: 400,
        requestTimeoutMs: 6000,
        // Wider than the skew of the nodes' sequential starts under load, so every dealing counts.
        dkgWindowMs: 3000,
        // Generous: under a loaded machine an honest member's entry can take seconds to arrive.
        missingGraceMs: 15_000,
        ...extra,
        ...(fault ? { faults: fault } : {}),
      },
      onIncident: (incident) => incidents.get(name)?.push(incident),
    })
    if (!incidents.has(name)) incidents.set(name, [])
    running.set(name, node!)
    return node!
  }

  return {
    node: (name: string): EhrlogNode => running.get(name)!,
    dir: (name: string): string => dirs[NAMES.indexOf(name as (typeof NAMES)[number])]!,
    networkFile: (): string => join(root, 'network.json'),
    incidents: (name: string): Incident[] => incidents.get(name) ?? [],
    start,
    async stop(name: string): Promise<void> {
      await running.get(name)?.stop()
      running.delete(name)
    },

    /** network init, stats.json in each folder, three nodes, a full mesh and the key made. */
    async setUp(
      opts: {
        faults?: Record<string, StatsNodeOptions['faults']>
        /** Timings for every node (dkgWindowMs, missingGraceMs, …). */
        stats?: Partial<StatsNodeOptions>
      } = {},
    ): Promise<void> {
      extra = opts.stats ?? {}
      root = await tempDir()
      ;({ dirs } = await initNetwork(root))
      for (const dir of dirs) {
        await writeFile(
          join(dir, 'stats.json'),
          JSON.stringify({ period: 'second', minGroupSize: 2, minCellCount: 1 }),
        )
      }
      for (const [name, f] of Object.entries(opts.faults ?? {})) faults.set(name, f)
      for (const name of NAMES) await start(name)
      await waitFor('a full gossip mesh', () =>
        [...running.values()].every((n) => n.net.peers().filter((p) => p.gossip).length === 2),
      )
      await waitFor(
        'every node to hold the key and read every dkg-key entry',
        () => [...running.values()].every((n) => n.stats.key && n.stats.keysRecorded().size === 3),
        60_000,
      )
    },

    /**
     * Sleeps to just after a second boundary and submits each node's events there, so every
     * node's events of the call share one period; returns the period each node's events got.
     */
    async ingestInOnePeriod(events: Record<string, AuditEvent[]>): Promise<void> {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50))
      await Promise.all(
        Object.entries(events).map(([name, list]) => running.get(name)!.ingest.submit(list)),
      )
    },
  }
}

export { waitFor }
