import { readFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { EhrlogNode, NodeOptions } from '../../node/node.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/** POSTs one event right after start; returns its status and the ms from start() to the answer. */
async function startAndAppend(
  dir: string,
  token: string,
  opts: Partial<NodeOptions>,
): Promise<{ node: EhrlogNode; status: number; ms: number }> {
  const t0 = performance.now()
  const [node] = await startNodes([dir], opts)
  const res = await fetch(`${node!.httpUrl}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify([makeEvent(1)]),
  })
  await res.text()
  return { node: node!, status: res.status, ms: Math.round(performance.now() - t0) }
}

describe('the own-feed fence on a normal restart', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('with the members up, the first append after a restart is sequenced (201), not pending', async () => {
    const { dirs } = await initNetwork(await tempDir())
    nodes = await startNodes(dirs.slice(0, 2))
    const token = (
      JSON.parse(await readFile(`${dirs[2]}/config.json`, 'utf8')) as { apiToken: string }
    ).apiToken
    const times: Record<string, number[]> = { fenced: [], override: [] }
    // Alternating (and which goes first), so that load on the machine weighs on both alike.
    for (let round = 0; round < 4; round++) {
      const order =
        round % 2 === 0 ? (['fenced', 'override'] as const) : (['override', 'fenced'] as const)
      for (const mode of order) {
        const opts = mode === 'override' ? { overrideFence: 'latency baseline' } : {}
        const { node, status, ms } = await startAndAppend(dirs[2]!, token, opts)
        expect(status, mode).toBe(201)
        times[mode]!.push(ms)
        await node.stop()
      }
    }
    console.log(
      `start to first 201, hospital-c with two members up: fenced ${times.fenced!.join(', ')} ms; without the fence (override) ${times.override!.join(', ')} ms`,
    )
  }, 120_000)

  it('the operator override appends alone, and is itself recorded as an entry of the own feed', async () => {
    const { dirs } = await initNetwork(await tempDir())
    nodes = await startNodes([dirs[0]!], {
      overrideFence: 'first start of a new network; hospital-b and -c not up yet',
      fenceWaitMs: 100,
    })
    const a = nodes[0]!
    const { ids, pendingIds } = await a.ingest.submit([makeEvent(1)])
    expect(pendingIds).toBeUndefined()
    expect(ids).toEqual(['hospital-a:2'])
    const first = await a.store.getEntry('hospital-a', 1)
    expect(first?.entry.kind).toBe('event')
    expect(first?.entry.body).toMatchObject({
      actorId: 'operator@hospital-a',
      action: 'other',
      detail: 'own-feed fence override',
      resource: 'ehrlog_node',
      notes:
        'started with --override-fence at feed size 0: first start of a new network; hospital-b and -c not up yet',
    })
    expect(a.status().ownFeed).toEqual({ fenced: false, pendingEvents: 0 })
  })
})
