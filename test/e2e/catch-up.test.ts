import { describe, expect, it } from 'vitest'
import { type Member, useLocalNetworks } from './harness.ts'
import { appendEvents, eventRange, waitForSizes } from './node-api.ts'
import { expectIdenticalVerifiedReplicas, readReplica } from './replicas.ts'

const PER_ORIGIN = 5_000
const PER_POST = 500

/** Appends PER_ORIGIN events at `m`, PER_POST per request, numbered from `from`. */
async function appendMany(m: Member, from: number): Promise<void> {
  for (let i = 0; i < PER_ORIGIN; i += PER_POST)
    await appendEvents(m, eventRange(from + i, PER_POST))
}

describe('catch-up of a node that was down', () => {
  const createNetwork = useLocalNetworks()

  it('a restarted node pulls 5,000 entries from each of two feeds', async () => {
    const net = await createNetwork({ nodes: 3, fileIndex: 1, args: ['--sync-interval', '1000'] })
    await Promise.all(net.members.map((m) => net.start(m.name)))
    const [a, b, c] = net.members as [Member, Member, Member]

    // Something from before the outage, so that hospital-c resumes a feed it already holds.
    await appendEvents(a, eventRange(0, 1))
    await waitForSizes([a, b, c], new Map([['hospital-a', 1]]), 5_000)

    await net.stop('hospital-c')
    await Promise.all([appendMany(a, 1), appendMany(b, 1_000_000)])
    const expected = new Map([
      ['hospital-a', 1 + PER_ORIGIN],
      ['hospital-b', PER_ORIGIN],
    ])
    await waitForSizes([a, b], expected, 10_000)

    // What the stopped hospital-c holds: the one entry from before, nothing of the 10,000.
    expect((await readReplica(c.dir)).map((e) => e.id)).toEqual(['hospital-a:1'])

    const restarted = Date.now()
    await net.start('hospital-c')
    const serving = Date.now()
    await waitForSizes([c], expected, 60_000)
    const caughtUp = Date.now()
    const pulled = 2 * PER_ORIGIN
    console.log(
      `hospital-c caught up on ${pulled} entries ${caughtUp - serving} ms after its API came up ` +
        `(${Math.round(pulled / ((caughtUp - serving) / 1000))} entries/s); ` +
        `${caughtUp - restarted} ms from the restart, process start included`,
    )

    await net.stopAll()
    const replica = await expectIdenticalVerifiedReplicas(net.members)
    expect(replica).toHaveLength(1 + 2 * PER_ORIGIN)
    expect(new Set(replica.map((e) => e.body.notes)).size, 'distinct events').toBe(replica.length)
  }, 120_000)
})
