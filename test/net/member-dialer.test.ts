import { afterEach, describe, expect, it } from 'vitest'
import { makeNetwork, type TestNetwork, waitFor } from './harness.ts'

describe('MemberDialer: members it cannot reach', () => {
  let network: TestNetwork | undefined
  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('logs at error level when no member is reachable, names address and error, and recovers', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const a = network.byName('hospital-a')
    const b = network.byName('hospital-b')
    const net = await network.start(a, {
      redial: { minBackoffMs: 100, maxBackoffMs: 200, checkIntervalMs: 50, isolatedErrorMs: 600 },
    })
    const isolated = () => a.logs.filter((l) => l.level === 50 && /no member reachable/.test(l.msg))
    await waitFor('the isolation error', () => isolated().length === 1, 10_000)
    expect(isolated()[0]!.msg).toMatch(/no member reachable for \d+ s/)

    const links = net.memberLinks()
    expect(links.map((l) => l.name).sort()).toEqual(['hospital-b', 'hospital-c'])
    for (const link of links) {
      const member = network.byName(link.name)
      expect(link.connected).toBe(false)
      expect(link.address).toBe(`/ip4/127.0.0.1/tcp/${member.port}`)
      expect(link.lastError).toMatch(/ECONNREFUSED|refused/i)
      expect(link.lastConnectedAt).toBeUndefined()
      expect(link.failures).toBeGreaterThan(0)
    }

    // Once a member comes up: connected, the error cleared, and the outage is over.
    await network.start(b)
    await waitFor('a connection to hospital-b', () =>
      net.memberLinks().some((l) => l.name === 'hospital-b' && l.connected),
    )
    const linkB = net.memberLinks().find((l) => l.name === 'hospital-b')!
    expect(linkB.lastError).toBeUndefined()
    expect(Date.parse(linkB.lastConnectedAt!)).toBeGreaterThan(Date.now() - 5_000)
    await waitFor('the recovery line', () =>
      a.logs.some((l) => l.msg === 'a member is reachable again'),
    )
    // Only one error line per outage, however long it lasted.
    expect(isolated()).toHaveLength(1)
  }, 30_000)
})
