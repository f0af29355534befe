import { describe, expect, it } from 'vitest'
import { useLocalNetworks } from './harness.ts'
import { appendEvents, eventRange, waitForSizes } from './node-api.ts'
import { expectIdenticalVerifiedReplicas } from './replicas.ts'

describe('replication between node processes', () => {
  const createNetwork = useLocalNetworks()

  it('an event posted at one node reaches the others within seconds (10 s under load), byte for byte', async () => {
    const net = await createNetwork({ nodes: 3, fileIndex: 0 })
    await Promise.all(net.members.map((m) => net.start(m.name)))
    const [a, b, c] = ['hospital-a', 'hospital-b', 'hospital-c'].map(net.member)

    const [event] = eventRange(1, 1)
    const posted = Date.now()
    const ids = await appendEvents(a!, [event!])
    expect(ids).toEqual(['hospital-a:1'])
    // Counted from sending the POST, not from its answer.
    await waitForSizes([a!, b!, c!], new Map([['hospital-a', 1]]), posted + 10_000 - Date.now())
    console.log(`replicated to both peers in ${Date.now() - posted} ms`)

    await net.stopAll()
    const replica = await expectIdenticalVerifiedReplicas(net.members)
    expect(replica.map((e) => e.id)).toEqual(['hospital-a:1'])
    expect(replica[0]!.body).toEqual(event)
  }, 60_000)
})
