import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { signedChange } from '../core/trust/membership-chain-fixtures.ts'
import { waitFor } from './harness.ts'
import { appendLive, type LiveNetwork, type LiveNode, makeLiveNetwork } from './live-harness.ts'

/*
 * A member's libp2p key rotated while its node runs (real libp2p nodes on loopback, each with
 * its own LiveMembership; the change is applied to each node's as the checkpoint cut would):
 * a node holding the rotated key (NetServiceOptions.nextPrivateKey, keys-next.enc in a node)
 * restarts its network on it in the same process; without it, it says to install the key and
 * restart.
 */

async function applyOn(nodes: LiveNode[], change: unknown): Promise<void> {
  for (const n of nodes) {
    n.live.offer(change)
    await n.live.applyPending()
  }
}

function gossipingWith(from: LiveNode, to: LiveNode, peerId: string): boolean {
  return from.net!.peers().some((p) => p.peerId === peerId && p.name === to.name && p.gossip)
}

describe("a member's libp2p key rotated on a running node", () => {
  let network: LiveNetwork | undefined
  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('with the next key, the node switches to the new PeerId without a restart', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [LiveNode, LiveNode, LiveNode]
    const oldPeer = c.member.identity.peerId
    const newKey = await generateKeyPair('Ed25519')
    const newPeer = peerIdFromPrivateKey(newKey).toString()
    await network.start(a)
    await network.start(b)
    const cNet = await network.start(c, { nextPrivateKey: newKey })
    await waitFor(
      'a full mesh',
      () => gossipingWith(a, c, oldPeer) && gossipingWith(b, c, oldPeer),
      20_000,
    )
    await appendLive(c, 2)
    await waitFor('replicated under the old PeerId', () =>
      [a, b].every((n) => n.store.size('hospital-c') === 2),
    )
    const rotate = await signedChange(
      network.versionOf(a),
      { type: 'rotate-libp2p', name: 'hospital-c', peerId: newPeer, oldKey: 'held' },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b, c], rotate)
    await waitFor(
      'c restarted its network under the new PeerId',
      () => c.logs.some((l) => l.msg === 'network restarted with the rotated libp2p key'),
      20_000,
    )
    // The same NetService object: nothing that holds it was rebuilt.
    expect(c.net).toBe(cNet)
    expect(cNet.admitted).toBe(true)
    expect(cNet.addresses().every((addr) => addr.endsWith(`/p2p/${newPeer}`))).toBe(true)
    expect(c.logs.some((l) => /install the rotated key and restart/.test(l.msg))).toBe(false)
    await waitFor(
      'gossip with the new PeerId',
      () => gossipingWith(a, c, newPeer) && gossipingWith(b, c, newPeer),
      30_000,
    )
    expect([a, b].some((n) => n.net!.peers().some((p) => p.peerId === oldPeer))).toBe(false)
    // Its feed goes on under the new PeerId: gossip and sync from the restarted parts.
    await appendLive(c, 3)
    await waitFor(
      'replicated under the new PeerId',
      () => [a, b].every((n) => n.store.size('hospital-c') === 5),
      20_000,
    )
    // And it still pulls: a's new entries reach c over the new links.
    await appendLive(a, 4)
    await waitFor('a replicated to c', () => c.store.size('hospital-a') === 4, 20_000)
  }, 90_000)

  it('with a next key of another PeerId, or none, it keeps running and asks for a restart', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [LiveNode, LiveNode, LiveNode]
    const oldPeer = c.member.identity.peerId
    const unrelated = await generateKeyPair('Ed25519')
    const newPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await network.start(a)
    await network.start(b)
    const cNet = await network.start(c, { nextPrivateKey: unrelated })
    await waitFor('a full mesh', () => gossipingWith(a, c, oldPeer), 20_000)
    const rotate = await signedChange(
      network.versionOf(a),
      { type: 'rotate-libp2p', name: 'hospital-c', peerId: newPeer, oldKey: 'held' },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    await applyOn([a, b, c], rotate)
    await waitFor(
      'hospital-c told to install its rotated key',
      () => c.logs.some((l) => /lists another libp2p key for hospital-c/.test(l.msg)),
      20_000,
    )
    expect(c.logs.some((l) => l.msg === 'network restarted with the rotated libp2p key')).toBe(
      false,
    )
    expect(cNet.admitted).toBe(false)
    expect(cNet.addresses().every((addr) => addr.endsWith(`/p2p/${oldPeer}`))).toBe(true)
  }, 60_000)
})
