import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { MerkleBuilder } from '../../node/core/merkle/index.ts'
import { signTreeHead } from '../../node/core/tree-head.ts'
import { encodeBatchRecord, encodeGossipMessage } from '../../node/net/batch-codec.ts'
import { createHost, type NetHost } from '../../node/net/host.ts'
import { batchTopic, type FeedBatch, LIMITS, SYNC_PROTOCOL } from '../../node/net/index.ts'
import { decodeFrame, encodeFrame } from '../../node/net/sync-frames.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { makeNetwork, type TestNetwork, type TestNode, waitFor, waitForMesh } from './harness.ts'
import { MemoryReplicaStore } from './memory-replica-store.ts'

const message = (batch: FeedBatch) => encodeGossipMessage([encodeBatchRecord(batch)])

describe('gating and bad input', () => {
  let network: TestNetwork | undefined
  const hosts: NetHost[] = []
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop()))
    await network?.stop()
    network = undefined
  })

  /** A bare libp2p host with our settings, connected to `target`, subscribed to the topic. */
  async function rawHost(net: TestNetwork, key: PrivateKey, target: TestNode): Promise<NetHost> {
    const host = await createHost({
      membership: net.membership,
      privateKey: key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      maxClientConnections: 0,
    })
    hosts.push(host)
    await host.dial(multiaddr(`/ip4/127.0.0.1/tcp/${target.port}/p2p/${target.peerId}`))
    host.services.pubsub.subscribe(batchTopic(net.membership.networkId))
    return host
  }

  it('ignores gossip from a non-member and refuses it sync; the same bytes from a member are stored', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [TestNode, TestNode, TestNode]
    await network.start(a)
    await network.start(b)
    await waitForMesh(network)
    const outsiderKey = await generateKeyPair('Ed25519')
    const outsider = await rawHost(network, outsiderKey, a)
    const outsiderId = outsider.peerId.toString()
    const topic = batchTopic(network.membership.networkId)
    await waitFor(
      'outsider to see a subscribed',
      () => outsider.services.pubsub.getSubscribers(topic).length > 0,
    )

    // A genuine batch of hospital-c (offline), relayed by a peer that is not a member.
    const batch = c.writer.next(5)
    await outsider.services.pubsub.publish(topic, message(batch))
    const stream = await outsider.dialProtocol(peerIdFromString(a.peerId), SYNC_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: LIMITS.maxSyncFrameBytes })
    const networkId = Buffer.from(network.membership.networkId, 'hex')
    await lp.write(encodeFrame({ type: 'state', networkId, sizes: new Map() }))
    const reply = decodeFrame((await lp.read()).subarray())
    expect(reply).toMatchObject({ type: 'error', code: 'FORBIDDEN' })
    await stream.close()

    await waitFor('a to log the refused sync', () =>
      a.logs.some((l) => l.msg === 'refused sync: peer is not a member' && l.peer === outsiderId),
    )
    expect(a.logs.some((l) => l.msg.startsWith('client connected') && l.peer === outsiderId)).toBe(
      true,
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(a.store.size('hospital-c')).toBe(0)
    expect(b.store.size('hospital-c')).toBe(0)

    // Control: the identical message from a member goes through, so only the sender differed.
    // It also shows a's gossipsub dropped the outsider's RPC before validation (graylisted by
    // peer score): a validated message id would sit in the seen cache and b's copy be ignored.
    b.net?.publish(batch)
    await waitFor('a to store the batch from member b', () => a.store.size('hospital-c') === 5)
  })

  it('admits members only when maxClientConnections is 0', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b'])
    const [a] = network.nodes as [TestNode]
    await network.start(a, { maxClientConnections: 0 })
    const outsider = await createHost({
      membership: network.membership,
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      maxClientConnections: 0,
    })
    hosts.push(outsider)
    // The dialer may finish its side of the upgrade before a's gater closes the link.
    await outsider.dial(multiaddr(`/ip4/127.0.0.1/tcp/${a.port}/p2p/${a.peerId}`)).catch(() => {})
    await waitFor('the link to close', () => outsider.getConnections().length === 0)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(outsider.getConnections()).toHaveLength(0)
    expect(a.net?.peers()).toEqual([])
  })

  it("rejects a member's forged, malformed, oversized and misnumbered batches, logging its peer, and keeps running", async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [TestNode, TestNode, TestNode]
    await network.start(a)
    await network.start(b)
    await waitForMesh(network)
    // hospital-c's own identity, driven by hand to send what a correct node never would.
    const rogue = await rawHost(network, c.libp2pKey, a)
    const topic = batchTopic(network.membership.networkId)
    await waitFor(
      'rogue to see a subscribed',
      () => rogue.services.pubsub.getSubscribers(topic).length > 0,
    )
    const send = (bytes: Uint8Array) => rogue.services.pubsub.publish(topic, bytes)
    const logged = (msg: string, code: string) =>
      waitFor(`a to log ${code}`, () =>
        a.logs.some((l) => l.msg === msg && l.code === code && l.peer === c.peerId),
      )

    await send(new Uint8Array(randomBytes(300)))
    await logged('rejected gossip message', 'ARGUMENT_INVALID')

    await send(new Uint8Array(LIMITS.maxGossipMessageBytes + 100).fill(1))
    await logged('rejected gossip message', 'PAYLOAD_TOO_LARGE')

    const forged = c.writer.next(5)
    forged.head = {
      ...forged.head,
      signature: forged.head.signature.map((x, i) => (i === 0 ? x ^ 1 : x)),
    }
    await send(message(forged))
    await logged('rejected batch', 'INVALID_SIGNATURE')

    // Entries 1 and 3 under a correctly signed head of size 2.
    const e1 = makeEntry('hospital-c', 1, undefined, 'event', makeEvent(1), new Date())
    const e3 = makeEntry('hospital-c', 3, e1.hash, 'event', makeEvent(3), new Date())
    const tree = new MerkleBuilder()
    tree.append(e1.hash)
    tree.append(e3.hash)
    const head = signTreeHead(c.feedKey, 'hospital-c', 2, tree.root())
    await send(message({ origin: 'hospital-c', entries: [e1.bytes, e3.bytes], head }))
    await logged('rejected batch', 'SEQ_MISMATCH')

    // Correct entries under a signed head whose root is not theirs.
    const e2 = makeEntry('hospital-c', 2, e1.hash, 'event', makeEvent(2), new Date())
    const wrongRoot = signTreeHead(c.feedKey, 'hospital-c', 2, new Uint8Array(32))
    await send(message({ origin: 'hospital-c', entries: [e1.bytes, e2.bytes], head: wrongRoot }))
    await logged('rejected batch', 'INVALID_PROOF')

    expect(a.store.size('hospital-c')).toBe(0)
    expect(b.store.size('hospital-c')).toBe(0)
    // Still running, and still listening to this member: a valid batch is stored.
    const fresh = new MerkleBuilder()
    fresh.append(e1.hash)
    fresh.append(e2.hash)
    await send(
      message({
        origin: 'hospital-c',
        entries: [e1.bytes, e2.bytes],
        head: signTreeHead(c.feedKey, 'hospital-c', 2, fresh.root()),
      }),
    )
    await waitFor('a to store the valid batch', () => a.store.size('hospital-c') === 2)
    expect(a.net?.peers().some((p) => p.name === 'hospital-b')).toBe(true)
  })

  it('rejects tampered entries served by sync and stores none of them', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-c'])
    const [a, c] = network.nodes as [TestNode, TestNode]
    // hospital-c serves its own feed with one byte of entry 3 changed in every response.
    class TamperingStore extends MemoryReplicaStore {
      override async readBatches(origin: string, fromSeq: number, maxEntries: number) {
        const batches = await super.readBatches(origin, fromSeq, maxEntries)
        return batches.map((bt) => ({
          ...bt,
          entries: bt.entries.map((e, i) =>
            i === 2 ? Buffer.from(Buffer.from(e).toString().replace('read', 'reaD')) : e,
          ),
        }))
      }
    }
    c.store = new TamperingStore(network.keys)
    await c.store.acceptBatch(c.writer.next(10), 'self')
    await network.start(a)
    await network.start(c)
    await waitFor('a to reject the tampered batch', () =>
      a.logs.some(
        (l) => l.msg === 'rejected batch' && l.peer === c.peerId && l.code === 'CHAIN_BROKEN',
      ),
    )
    expect(a.store.size('hospital-c')).toBe(0)
  })
})
