import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { signedChange } from '../core/trust/membership-chain-fixtures.ts'
import { FeedWriter } from './feed-writer.ts'
import { reservePorts, waitFor } from './harness.ts'
import { appendLive, type LiveNetwork, type LiveNode, makeLiveNetwork } from './live-harness.ts'

/*
 * The network follows the membership as changes are applied (real libp2p nodes on loopback,
 * each with its own LiveMembership; the change is applied to each node's as the checkpoint
 * cut would).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function applyOn(nodes: LiveNode[], change: unknown): Promise<void> {
  for (const n of nodes) {
    n.live.offer(change)
    await n.live.applyPending()
  }
}

function gossipingWith(from: LiveNode, to: LiveNode, peerId = to.member.identity.peerId): boolean {
  return from.net!.peers().some((p) => p.peerId === peerId && p.name === to.name && p.gossip)
}

describe('the network follows membership changes', () => {
  let network: LiveNetwork | undefined
  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('a joining node waits to be admitted, then is admitted, dialled, synced and gossips', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'], ['hospital-d'])
    const [a, b, c, d] = network.nodes as [LiveNode, LiveNode, LiveNode, LiveNode]
    for (const n of [a, b, c]) await network.start(n)
    await appendLive(a, 5)
    await appendLive(b, 2)

    // Its identity is in no version: it starts from genesis, reaches the members as a client.
    const netD = await network.start(d)
    expect(netD.admitted).toBe(false)
    await waitFor('the waiting line', () =>
      d.logs.some((l) => /waiting to be admitted: hospital-d/.test(l.msg)),
    )
    let refused: unknown
    try {
      netD.publish(new FeedWriter('hospital-d', d.member.feedKey).next(1))
    } catch (err) {
      refused = err
    }
    expect(isEhrlogError(refused, 'UNAVAILABLE')).toBe(true)
    await sleep(1500)
    expect(d.store.size('hospital-a')).toBe(0) // members do not sync with a non-member
    expect(gossipingWith(a, d)).toBe(false)

    const add = await signedChange(
      network.versionOf(a),
      { type: 'add', member: d.member.identity },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b, c], add)

    // d fetches the chain from a member, verifies it from genesis and finds itself listed.
    await waitFor('hospital-d admitted', () => netD.admitted, 15_000)
    expect(d.live.current.version).toBe(1)
    expect(d.live.current.versionHash).toBe(a.live.current.versionHash)
    expect(d.logs.some((l) => /^admitted: hospital-d/.test(l.msg))).toBe(true)
    // ... then syncs every feed by the existing sync.
    await waitFor(
      'hospital-d synced',
      () => d.store.size('hospital-a') === 5 && d.store.size('hospital-b') === 2,
      15_000,
    )
    // The members dial it and gossip with it as a member.
    await waitFor(
      'a full mesh with hospital-d',
      () => [a, b, c].every((n) => gossipingWith(n, d) && gossipingWith(d, n)),
      30_000,
    )
    expect(a.net!.memberLinks().map((l) => l.name)).toContain('hospital-d')
    await appendLive(d, 3)
    await waitFor('hospital-d replicated', () =>
      [a, b, c].every((n) => n.store.size('hospital-d') === 3),
    )
  }, 60_000)

  it('a joining node reaches a member genesis does not list through its join peer', async () => {
    // Genesis lists no addresses: hospital-d can only reach hospital-e, itself added later.
    network = await makeLiveNetwork(['hospital-a', 'hospital-b'], ['hospital-e', 'hospital-d'], {
      genesisAddresses: false,
    })
    const [a, b, e, d] = network.nodes as [LiveNode, LiveNode, LiveNode, LiveNode]
    const addE = await signedChange(
      network.versionOf(a),
      { type: 'add', member: e.member.identity },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b, e], addE)
    const addD = await signedChange(
      network.versionOf(a),
      { type: 'add', member: d.member.identity },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b, e], addD)
    await network.start(e)
    await appendLive(e, 4)
    const netD = await network.start(d, {
      join: [`/ip4/127.0.0.1/tcp/${e.port}/p2p/${e.member.identity.peerId}`],
    })
    expect(netD.membershipStatus().admitted).toBe(false)
    expect(netD.membershipStatus().waitingFor).toMatch(/to be admitted/)
    await waitFor('hospital-d admitted through its join peer', () => netD.admitted)
    expect(netD.membershipStatus()).toEqual({ version: 2, admitted: true })
    await waitFor('hospital-d synced from hospital-e', () => d.store.size('hospital-e') === 4)
  }, 30_000)

  it('a removed member is disconnected, refused and not dialled; its feed is kept', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [LiveNode, LiveNode, LiveNode]
    for (const n of network.nodes) await network.start(n)
    await appendLive(c, 2)
    await waitFor('hospital-c replicated', () =>
      [a, b].every((n) => n.store.size('hospital-c') === 2),
    )
    const remove = await signedChange(
      network.versionOf(a),
      { type: 'remove', name: 'hospital-c' },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    // hospital-c itself does not apply it (it keeps trying to reach the others).
    await applyOn([a, b], remove)
    const cPeer = c.member.identity.peerId
    await waitFor('hospital-c disconnected', () =>
      [a, b].every((n) => !n.net!.peers().some((p) => p.peerId === cPeer)),
    )
    // hospital-c redials every few hundred ms meanwhile, and appends: nothing of it gets in.
    await appendLive(c, 3)
    await sleep(1500)
    for (const n of [a, b]) {
      expect(n.net!.peers().some((p) => p.peerId === cPeer)).toBe(false)
      expect(n.net!.memberLinks().map((l) => l.name)).not.toContain('hospital-c')
      expect(n.store.size('hospital-c')).toBe(2) // kept, frozen by the store
    }
    expect(gossipingWith(a, b)).toBe(true)
    expect(a.logs.some((l) => l.msg === 'membership changed: the network follows')).toBe(true)
  }, 40_000)

  it('a node that was down catches up the changes it missed, in order, when it reconnects', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'], ['hospital-d'])
    const [a, b, c, d] = network.nodes as [LiveNode, LiveNode, LiveNode, LiveNode]
    for (const n of [a, b, c]) await network.start(n)
    await c.net!.stop()
    const add = await signedChange(
      network.versionOf(a),
      { type: 'add', member: d.member.identity },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b], add)
    // Version 1 has four members: its changes need three signatures.
    const [port] = await reservePorts(1)
    const moved = await signedChange(
      network.versionOf(a),
      { type: 'addresses', name: 'hospital-d', addresses: [`/ip4/127.0.0.1/tcp/${port}`] },
      ['hospital-a', 'hospital-b', 'hospital-d'],
      network.signers,
    )
    await applyOn([a, b], moved)
    expect(c.live.current.version).toBe(0)

    await network.start(c)
    await waitFor('hospital-c at version 2', () => c.live.current.version === 2, 15_000)
    expect(c.live.history.versions.map((v) => v.hash)).toEqual(
      a.live.history.versions.map((v) => v.hash),
    )
    expect(c.logs.some((l) => l.msg === 'membership changes caught up from a peer')).toBe(true)
    // Its dialer follows: hospital-d is now a member it tries, at the moved address.
    await waitFor('hospital-d dialled at its new address', () =>
      c
        .net!.memberLinks()
        .some((l) => l.name === 'hospital-d' && l.address === `/ip4/127.0.0.1/tcp/${port}`),
    )
  }, 40_000)

  it('rotate-libp2p admits the new PeerId and drops the old one', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [LiveNode, LiveNode, LiveNode]
    for (const n of network.nodes) await network.start(n)
    await waitFor('a full mesh', () => gossipingWith(a, c) && gossipingWith(b, c))
    const oldPeer = c.member.identity.peerId
    const newKey = await generateKeyPair('Ed25519')
    const newPeer = peerIdFromPrivateKey(newKey).toString()
    const rotate = await signedChange(
      network.versionOf(a),
      { type: 'rotate-libp2p', name: 'hospital-c', peerId: newPeer, oldKey: 'held' },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b, c], rotate)
    await waitFor('the old PeerId dropped', () =>
      [a, b].every((n) => !n.net!.peers().some((p) => p.peerId === oldPeer)),
    )
    await waitFor('hospital-c told to install its rotated key', () =>
      c.logs.some((l) => /lists another libp2p key for hospital-c/.test(l.msg)),
    )
    // hospital-c restarts with the new key: admitted under it by both.
    await c.net!.stop()
    await network.start(c, { privateKey: newKey })
    expect(c.net!.admitted).toBe(true)
    await waitFor(
      'gossip with the new PeerId',
      () => gossipingWith(a, c, newPeer) && gossipingWith(b, c, newPeer),
      15_000,
    )
    await appendLive(c, 2)
    await waitFor('replicated under the new PeerId', () =>
      [a, b].every((n) => n.store.size('hospital-c') === 2),
    )
  }, 40_000)
})
