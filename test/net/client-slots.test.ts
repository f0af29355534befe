import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { type TCPSocketOptions, tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { QueryClient } from '../../node/net/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { type QueryNetwork, startQueryNetwork } from '../query/network-world.ts'

/** A bare libp2p peer dialing from `localAddress` (any 127.x.y.z is this host on Linux). */
async function peerFrom(localAddress: string): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    // localAddress goes through to net.connect; the type lists only a few of its options.
    transports: [tcp({ dialOpts: { localAddress } as TCPSocketOptions })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })
}

/**
 * Sixteen libp2p connections that say nothing used to fill every member's client slots, and
 * every `ehrlog query` failed. Now idle client connections make room and are closed after
 * 10 s, and one address holds at most 4.
 */
describe('idle client connections cannot shut the CLI out (real nodes, real connections)', () => {
  let world: QueryNetwork
  const held: Libp2p[] = []
  const env = () => ({ EHRLOG_CONFIG_DIR: join(world.root, 'config-admin') })

  beforeAll(async () => {
    world = await startQueryNetwork()
    await saveSession({ env: env() } as unknown as CliContext, {
      v: 1,
      node: world.nodes[0]!.httpUrl,
      username: 'admin@hospital-a',
      token: world.tokens.admin!,
      role: 'admin',
      expiresMs: Date.now() + 3600_000,
    })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(held.map((p) => p.stop()))
    await Promise.all((world?.nodes ?? []).map((n) => n.stop()))
    if (world) await rm(world.root, { recursive: true, force: true })
  })

  const addrs = (i: number) => {
    const m = world.membership.members[i]!
    return m.addresses.map((a) => multiaddr(`${a}/p2p/${m.peerId}`))
  }

  it('one address holds at most 4 client connections to a member', async () => {
    const peers = await Promise.all(Array.from({ length: 6 }, () => peerFrom('127.0.0.2')))
    held.push(...peers)
    const results = await Promise.allSettled(peers.map((p) => p.dial(addrs(0))))
    await new Promise((r) => setTimeout(r, 500))
    const open = peers.filter((p) => p.getConnections().some((c) => c.status === 'open')).length
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(4)
    expect(open).toBe(4)
    await Promise.all(peers.map((p) => p.stop()))
    held.length = 0
  })

  it('with 16 idle connections held at every member, a CLI query succeeds; the idle ones are closed after 10 s', async () => {
    for (let i = 0; i < 16; i++) held.push(await peerFrom(`127.0.1.${i + 1}`))
    for (const member of [0, 1, 2]) await Promise.all(held.map((p) => p.dial(addrs(member))))
    for (const p of held) expect(p.getConnections().length).toBe(3)
    // Past the one-second grace, an idle connection gives its slot to a new client.
    await new Promise((r) => setTimeout(r, 1_200))
    const r = await runCli(
      ['query', '--network', join(world.root, 'network.json'), '--patient', 'MRN-A'],
      env(),
    )
    expect(r.err).toBe('')
    expect(r.out).toMatch(/^verified: /m)
    expect(r.code).toBe(0)
    // Nobody holds a slot by saying nothing: every held connection is closed after 10 s.
    await waitFor(
      'idle client connections closed',
      () => held.every((p) => p.getConnections().length === 0),
      30_000,
    )
  }, 60_000)

  it('a 70 KiB query request is PAYLOAD_TOO_LARGE, not INTERNAL', async () => {
    const client = await QueryClient.start()
    try {
      const m = world.membership.members[0]!
      await expect(
        client.query(m, {
          networkId: world.membership.networkId,
          token: world.tokens.admin!,
          filter: { actor: 'x'.repeat(70 * 1024) },
        }),
      ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    } finally {
      await client.stop()
    }
  })

  it('a client whose query is refused for its session is disconnected after the answer', async () => {
    const peer = await peerFrom('127.0.0.3')
    held.push(peer)
    const m = world.membership.members[1]!
    const stream = await peer.dialProtocol(addrs(1), '/ehrlog/query/1.0.0')
    const lp = lpStream(stream)
    await lp.write(
      new TextEncoder().encode(
        JSON.stringify({
          v: 1,
          networkId: world.membership.networkId,
          token: 'forged.token',
          filter: {},
        }),
      ),
    )
    const answer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray()))
    expect(answer).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } })
    await waitFor(
      `the connection to ${m.name} closed`,
      () => peer.getConnections().filter((c) => c.status === 'open').length === 0,
      5_000,
    )
  })
})
