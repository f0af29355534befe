import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { verifyInclusion } from '../../node/core/merkle/index.ts'
import { isTreeHeadSignatureValid } from '../../node/core/tree-head.ts'
import { type RepairPeer, repairFromPeers, repairSourceOf } from '../../node/integrity/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { createHost, type NetHost } from '../../node/net/host.ts'
import { LIMITS, REPAIR_PROTOCOL, type RepairSource } from '../../node/net/index.ts'
import { decodeRepairFrame, encodeRepairFrame } from '../../node/net/repair-frames.ts'
import type { LogStore } from '../../node/store/index.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { makeEvent, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { makeNetwork, type TestNetwork, type TestNode, waitForMesh } from '../net/harness.ts'

describe('/ehrlog/repair/1.0.0', () => {
  const tempDir = useTempDirs()
  let network: TestNetwork | undefined
  const hosts: NetHost[] = []
  const stores: LogStore[] = []
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop()))
    await network?.stop()
    network = undefined
    await Promise.all(stores.splice(0).map((s) => s.close()))
  })

  /** hospital-a serves a real store holding 3 batches of 4 of its own feed; b is a member. */
  async function setUp(): Promise<{ a: TestNode; b: TestNode; c: TestNode; store: LogStore }> {
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [TestNode, TestNode, TestNode]
    const signer = { origin: 'hospital-a', privateKey: a.feedKey }
    const store = openStore(await tempDir(), makeStoreKeys(), [
      { origin: 'hospital-a', publicKey: network.keys.get('hospital-a')! },
    ])
    stores.push(store)
    await store.open()
    for (let i = 0; i < 3; i++)
      await store.appendEvents(
        signer,
        [0, 1, 2, 3].map((j) => makeEvent(i * 4 + j)),
      )
    await network.start(a, { repair: repairSourceOf(store) })
    await network.start(b)
    await waitForMesh(network)
    return { a, b, c, store }
  }

  /** A bare host with `key`, connected to `target`: sends what a correct node never would. */
  async function rawHost(key: PrivateKey, target: TestNode): Promise<NetHost> {
    const host = await createHost({
      membership: network!.membership,
      privateKey: key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      maxClientConnections: 0,
    })
    hosts.push(host)
    await host.dial(multiaddr(`/ip4/127.0.0.1/tcp/${target.port}/p2p/${target.peerId}`))
    return host
  }

  async function rawRequest(host: NetHost, target: TestNode, frame: Uint8Array) {
    const stream = await host.dialProtocol(peerIdFromString(target.peerId), REPAIR_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: LIMITS.maxRepairFrameBytes })
    await lp.write(frame)
    const reply = decodeRepairFrame((await lp.read()).subarray())
    await stream.close().catch(() => {})
    return reply
  }

  it("answers a member with the head at the size asked and each entry's inclusion proof", async () => {
    const { a, b, store } = await setUp()
    const response = await b.net!.requestRepair(a.peerId, {
      origin: 'hospital-a',
      treeSize: 8,
      ranges: [
        [2, 3],
        [7, 7],
      ],
    })
    const head = response.head!
    expect(head.treeSize).toBe(8)
    expect(isTreeHeadSignatureValid(head, network!.keys.get('hospital-a')!)).toBe(true)
    expect([...response.entries.keys()]).toEqual([2, 3, 7])
    for (const [seq, { bytes, proof }] of response.entries) {
      const entry = (await store.getEntry('hospital-a', seq))!
      expect(Buffer.compare(bytes, entry.bytes)).toBe(0)
      verifyInclusion(entry.hash, seq - 1, 8, proof, head.root)
    }
    // At a size with no head of its own (6), proofs still come, but no head.
    const between = await b.net!.requestRepair(a.peerId, {
      origin: 'hospital-a',
      treeSize: 6,
      ranges: [[1, 1]],
    })
    expect(between.head).toBeUndefined()
    expect(between.entries.size).toBe(1)
  })

  it('a member that answers with a forged entry over the wire is not believed: nothing is written', async () => {
    network = await makeNetwork(['hospital-a', 'hospital-b', 'hospital-c'])
    const [a, b, c] = network.nodes as [TestNode, TestNode, TestNode]
    const originKey = network.keys.get('hospital-a')!
    const signer = { origin: 'hospital-a', privateKey: a.feedKey }
    // b's replica of hospital-a, entry 3 deleted on disk.
    const origin = openStore(await tempDir(), makeStoreKeys(), [
      { origin: 'hospital-a', publicKey: originKey },
    ])
    const replicaPath = await tempDir()
    const replicaKeys = makeStoreKeys()
    stores.push(origin)
    await origin.open()
    let replica = openStore(replicaPath, replicaKeys, [
      { origin: 'hospital-a', publicKey: originKey },
    ])
    await replica.open()
    for (let i = 0; i < 2; i++) {
      const { entries, head } = await origin.appendEvents(
        signer,
        [0, 1, 2, 3].map((j) => makeEvent(i * 4 + j)),
      )
      await replica.acceptBatch({
        origin: 'hospital-a',
        entries: entries.map((e) => e.bytes),
        head,
      })
    }
    await replica.close()
    const t = new Tamperer(replicaPath, replicaKeys, 'hospital-a')
    await t.open()
    await t.deleteEntry(3)
    await t.close()
    replica = openStore(replicaPath, replicaKeys, [{ origin: 'hospital-a', publicKey: originKey }])
    stores.push(replica)
    await replica.open()
    // c serves a forged entry 3 under the origin's real head, with the real entry's proof.
    const honest = repairSourceOf(origin)
    const forgedSource: RepairSource = {
      size: () => 8,
      headAt: honest.headAt,
      async entryWithProof(o, seq, treeSize) {
        const real = await honest.entryWithProof(o, seq, treeSize)
        const e2 = (await origin.getEntry(o, 2))!
        const forged = makeEntry(o, 3, e2.hash, 'event', makeEvent(66), new Date())
        return real && { bytes: forged.bytes, proof: real.proof }
      },
    }
    await network.start(c, { repair: forgedSource })
    await network.start(b)
    await network.start(a, { repair: honest })
    await waitForMesh(network)
    const problems = (await replica.verify()).problems
    expect(problems.map((p) => p.entryId)).toEqual(['hospital-a:3'])
    const viaWire = (peer: TestNode): RepairPeer => ({
      name: peer.name,
      request: (req, signal) => b.net!.requestRepair(peer.peerId, req, signal),
    })
    const run = (peers: RepairPeer[]) =>
      repairFromPeers({
        replica: replica.scrubView,
        writeRepair: (r) => replica.repairFeed(r),
        origin: 'hospital-a',
        problems,
        cut: undefined,
        originKey,
        peers,
        exclusive: (fn) => fn(),
        log: silentLogger(),
      })
    const refused = await run([viaWire(c)])
    expect(refused.result?.entries ?? []).toEqual([])
    // Asked at both heads that cover seq 3 (sizes 4 and 8); refused both times.
    expect(refused.rejected.map((r) => [r.peer, r.seq, r.treeSize])).toEqual([
      ['hospital-c', 3, 4],
      ['hospital-c', 3, 8],
    ])
    expect(await replica.getEntry('hospital-a', 3)).toBeUndefined()
    const fixed = await run([viaWire(c), viaWire(a)])
    expect(fixed.result?.entries).toEqual([3])
    expect(fixed.from).toEqual(['hospital-a'])
    expect(
      Buffer.compare(
        (await replica.getEntry('hospital-a', 3))!.bytes,
        (await origin.getEntry('hospital-a', 3))!.bytes,
      ),
    ).toBe(0)
    expect((await replica.verify()).ok).toBe(true)
  })

  it('refuses a size it does not hold, a malformed or oversized request, and a non-member', async () => {
    const { a, b, c } = await setUp()
    const err = await b
      .net!.requestRepair(a.peerId, { origin: 'hospital-a', treeSize: 13, ranges: [[1, 1]] })
      .catch((e: unknown) => e)
    expect(isEhrlogError(err, 'NOT_FOUND')).toBe(true)

    const member = await rawHost(c.libp2pKey, a)
    const networkId = new Uint8Array(Buffer.from(network!.membership.networkId, 'hex'))
    const tooMany = encodeRepairFrame({
      type: 'request',
      networkId,
      request: { origin: 'hospital-a', treeSize: 2000, ranges: [[1, LIMITS.maxRepairSeqs + 1]] },
    })
    expect(await rawRequest(member, a, tooMany)).toMatchObject({
      type: 'error',
      code: 'ARGUMENT_INVALID',
    })
    const backwards = encodeRepairFrame({
      type: 'request',
      networkId,
      request: {
        origin: 'hospital-a',
        treeSize: 12,
        ranges: [
          [5, 6],
          [2, 3],
        ],
      },
    })
    expect(await rawRequest(member, a, backwards)).toMatchObject({ code: 'ARGUMENT_INVALID' })
    expect(await rawRequest(member, a, Uint8Array.of(1, 2, 3))).toMatchObject({
      code: 'ARGUMENT_INVALID',
    })
    const otherNetwork = encodeRepairFrame({
      type: 'request',
      networkId: new Uint8Array(32),
      request: { origin: 'hospital-a', treeSize: 4, ranges: [[1, 1]] },
    })
    expect(await rawRequest(member, a, otherNetwork)).toMatchObject({ code: 'FORBIDDEN' })

    const outsider = await rawHost(await generateKeyPair('Ed25519'), a)
    const fine = encodeRepairFrame({
      type: 'request',
      networkId,
      request: { origin: 'hospital-a', treeSize: 4, ranges: [[1, 1]] },
    })
    expect(await rawRequest(outsider, a, fine)).toMatchObject({ type: 'error', code: 'FORBIDDEN' })
    // …and the same request from a member is answered, so only the sender differed.
    expect(await rawRequest(member, a, fine)).toMatchObject({ type: 'head' })
    expect(a.logs.some((l) => l.msg === 'refused repair: peer is not a member')).toBe(true)
  })
})
