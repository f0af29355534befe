import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  addSignature,
  applyProposal,
  Membership,
  proposeChange,
} from '../../node/core/trust/index.ts'
import { createHost, type NetHost } from '../../node/net/host.ts'
import { requestMembershipChanges, verifyMembershipAnswer } from '../../node/net/membership-sync.ts'
import { LIMITS, MEMBERSHIP_PROTOCOL } from '../../node/net/protocol.ts'
import { makeMember, signedChange } from '../core/trust/membership-chain-fixtures.ts'
import { waitFor } from './harness.ts'
import { type LiveNetwork, type LiveNode, makeLiveNetwork } from './live-harness.ts'

/*
 * /ehrlog/membership/1.0.0 with real libp2p hosts on loopback. The misbehaving peer is a real
 * libp2p host holding a member's key whose responder writes the bad answers by hand.
 */

async function codeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : `not-ehrlog: ${String(err)}`
  }
}

describe('membership sync: answers', () => {
  let network: LiveNetwork | undefined
  const hosts: NetHost[] = []
  afterEach(async () => {
    await network?.stop()
    network = undefined
    await Promise.all(hosts.splice(0).map((h) => h.stop()))
  })

  /** A client host (not a member) that can ask `node`. */
  async function clientOf(node: LiveNode): Promise<NetHost> {
    const outsider = await makeMember('outsider')
    const host = await createHost({
      membership: Membership.fromJson(network!.genesis),
      privateKey: outsider.libp2p,
      listen: [],
      maxClientConnections: 0,
    })
    hosts.push(host)
    await host.peerStore.merge(peerIdFromString(node.member.identity.peerId), {
      multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`)],
    })
    return host
  }

  it('serves the changes after a version to anyone, which verify from genesis', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'], ['hospital-d'])
    const [a, , , d] = network.nodes as [LiveNode, LiveNode, LiveNode, LiveNode]
    const add = await signedChange(
      network.versionOf(a),
      { type: 'add', member: d.member.identity },
      ['hospital-a', 'hospital-b'],
      network.signers,
    )
    a.live.offer(add)
    await a.live.applyPending()
    await network.start(a)
    const client = await clientOf(a)
    const peer = a.member.identity.peerId
    const networkId = a.live.networkId
    const answer = await requestMembershipChanges(client, peer, { networkId, after: 0 }, 5000)
    expect(answer.latest).toBe(1)
    expect(answer.changes).toHaveLength(1)
    const verified = verifyMembershipAnswer(d.live.history, answer, peer)
    expect(await d.live.catchUp(verified)).toBe(1)
    expect(d.live.current.byName('hospital-d')).toBeDefined()
    // Nothing newer: an empty answer naming the latest.
    expect(await requestMembershipChanges(client, peer, { networkId, after: 1 }, 5000)).toEqual({
      latest: 1,
      changes: [],
    })
    // The responder refuses another network and a malformed request, with their codes.
    expect(
      await codeOf(() =>
        requestMembershipChanges(client, peer, { networkId: 'ab'.repeat(32), after: 0 }, 5000),
      ),
    ).toBe('FORBIDDEN')
    expect(
      await codeOf(() => requestMembershipChanges(client, peer, { networkId, after: -1 }, 5000)),
    ).toBe('MESSAGE_INVALID')
    expect(
      await codeOf(() =>
        requestMembershipChanges(
          client,
          peer,
          { networkId: 'x'.repeat(LIMITS.maxMembershipRequestBytes), after: 0 },
          5000,
        ),
      ),
    ).toBe('PAYLOAD_TOO_LARGE')
    expect(a.logs.some((l) => l.msg === 'membership request refused')).toBe(true)
  }, 30_000)

  it('refuses an answer that does not verify, is too large or malformed, and changes nothing', async () => {
    network = await makeLiveNetwork(['hospital-a', 'hospital-b', 'hospital-c'], ['hospital-d'])
    const [a, b, , d] = network.nodes as [LiveNode, LiveNode, LiveNode, LiveNode]
    // hospital-a is impersonated by a host with its key whose responder writes `answer`.
    let answer: Uint8Array = new Uint8Array()
    const fake = await createHost({
      membership: Membership.fromJson(network.genesis),
      privateKey: a.member.libp2p,
      listen: [`/ip4/127.0.0.1/tcp/${a.port}`],
      maxClientConnections: 4,
    })
    hosts.push(fake)
    await fake.handle(MEMBERSHIP_PROTOCOL, async (stream: Stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(answer)
      await stream.close()
    })
    const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))
    const v0 = network.versionOf(b)
    const addD = { type: 'add' as const, member: d.member.identity }
    const good = await signedChange(v0, addD, ['hospital-a', 'hospital-b'], network.signers)
    // Signed by one member: two of three are needed.
    const tooFew = await signedChange(v0, addD, ['hospital-a'], network.signers)
    // A valid first change, then one whose signature does not match its bytes.
    const moved = { type: 'addresses' as const, name: 'hospital-a', addresses: [] }
    let forged = addSignature(
      { proposal: proposeChange(applyProposal(v0, good), 'hospital-a', moved), signatures: [] },
      'hospital-a',
      network.signers.get('hospital-a')!.feedKey,
    )
    forged = {
      ...forged,
      signatures: [...forged.signatures, { ...forged.signatures[0]!, signer: 'hospital-b' }],
    }
    const cases: Array<[string, Uint8Array, string]> = [
      [
        'a chain that does not verify',
        json({ ok: true, latest: 1, changes: [tooFew] }),
        'QUORUM_NOT_MET',
      ],
      [
        'a good change then a forged one',
        json({ ok: true, latest: 2, changes: [good, forged] }),
        'INVALID_SIGNATURE',
      ],
      ['not JSON', new TextEncoder().encode('{"ok": tru'), 'MESSAGE_INVALID'],
      [
        'changes not a list',
        json({ ok: true, latest: 1, changes: 'all of them' }),
        'MESSAGE_INVALID',
      ],
      [
        'more changes than latest',
        json({ ok: true, latest: 1, changes: [good, good] }),
        'MESSAGE_INVALID',
      ],
      [
        'a malformed change',
        json({ ok: true, latest: 1, changes: [{ proposal: 1 }] }),
        'MESSAGE_INVALID',
      ],
      [
        'too large',
        json({
          ok: true,
          latest: 1,
          changes: [good],
          pad: 'x'.repeat(LIMITS.maxMembershipAnswerBytes),
        }),
        'PAYLOAD_TOO_LARGE',
      ],
    ]
    answer = cases[0]![1]
    const net = await network.start(b)
    await waitFor('hospital-b connected to the fake', () =>
      net.peers().some((p) => p.peerId === a.member.identity.peerId),
    )
    const refusals = () =>
      b.logs.filter((l) => l.msg === 'membership answer refused: nothing applied from it')
    // It asks on connect: refused like the rest.
    await waitFor('the answer on connect refused', () => refusals().length === 1)
    expect(refusals()[0]!.code).toBe('QUORUM_NOT_MET')
    for (const [what, bytes, code] of cases) {
      answer = bytes
      const before = refusals().length
      expect(await net.catchUpMembership(), what).toBe(0)
      const last = refusals().at(-1)
      expect(refusals().length, what).toBe(before + 1)
      expect(last?.code, `${what}: ${String(last?.err)}`).toBe(code)
      expect(b.live.current.version, what).toBe(0)
      expect(b.live.history.applied, what).toHaveLength(0)
    }
    // The same peer with a good answer: applied.
    answer = json({ ok: true, latest: 1, changes: [good] })
    expect(await net.catchUpMembership()).toBe(1)
    expect(b.live.current.version).toBe(1)
  }, 30_000)
})
