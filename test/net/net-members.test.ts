import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { Membership, MembershipHistory } from '../../node/core/trust/index.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import { NetService } from '../../node/net/index.ts'
import { NetMembers } from '../../node/net/net-members.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
} from '../core/trust/membership-chain-fixtures.ts'
import { MemoryReplicaStore } from './memory-replica-store.ts'

describe('NetMembers: the version in force, and what earlier versions leave behind', () => {
  it('answers for a fixed membership: no former peers, origins are the members', async () => {
    const members = await Promise.all(['hospital-a', 'hospital-b'].map((n) => makeMember(n)))
    const outsider = await makeMember('outsider')
    const fixed = NetMembers.of(
      Membership.fromJson({
        members: members.map((m) => m.identity),
        vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
      }),
    )
    expect(fixed.source).toBeUndefined()
    expect(fixed.isMember(members[0]!.identity.peerId)).toBe(true)
    expect(fixed.isFormerPeer(members[0]!.identity.peerId)).toBe(false)
    expect(fixed.isFormerPeer(outsider.identity.peerId)).toBe(false)
    expect(fixed.isOrigin('hospital-b')).toBe(true)
    expect(fixed.isOrigin('outsider')).toBe(false)
    expect(fixed.onChange(() => {})).toBeTypeOf('function')
  })

  it('follows a live membership: a removed member is a former peer whose feed stays an origin', async () => {
    const members = await Promise.all(
      ['hospital-a', 'hospital-b', 'hospital-c'].map((n) => makeMember(n)),
    )
    const keys = new Map(members.map((m) => [m.identity.name, m]))
    const genesis = {
      members: members.map((m) => m.identity),
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    }
    const live = new LiveMembership(MembershipHistory.fromChain(genesis, []))
    const view = NetMembers.of(live)
    const told: number[] = []
    view.onChange((now) => told.push(now.version))
    const c = members[2]!.identity
    expect(view.isMember(c.peerId)).toBe(true)
    live.offer(
      await signedChange(
        live.history.versions[0]!,
        { type: 'remove', name: 'hospital-c' },
        ['hospital-a', 'hospital-b'],
        keys,
      ),
    )
    await live.applyPending()
    expect(told).toEqual([1])
    expect(view.version).toBe(1)
    expect(view.isMember(c.peerId)).toBe(false)
    expect(view.byName('hospital-c')).toBeUndefined()
    expect(view.isFormerPeer(c.peerId)).toBe(true)
    expect(view.isOrigin('hospital-c')).toBe(true)
    expect(view.isFormerPeer(members[0]!.identity.peerId)).toBe(false)
    // A removed member's PeerId is not a rotated-out one: the gater refuses it outright.
    expect(view.isRotatedOutPeer(c.peerId)).toBe(false)
    // b's libp2p key rotated: its old PeerId is former, and rotated out (admitted as a client).
    const b = members[1]!.identity
    const newPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    live.offer(
      await signedChange(
        live.history.versions[1]!,
        { type: 'rotate-libp2p', name: 'hospital-b', peerId: newPeer, oldKey: 'held' },
        ['hospital-a', 'hospital-b'],
        keys,
      ),
    )
    await live.applyPending()
    expect(view.isMember(b.peerId)).toBe(false)
    expect(view.isFormerPeer(b.peerId)).toBe(true)
    expect(view.isRotatedOutPeer(b.peerId)).toBe(true)
    expect(view.isRotatedOutPeer(newPeer)).toBe(false)
    expect(view.isRotatedOutPeer(c.peerId)).toBe(false)
  })

  it('a NetService refuses a join address without /p2p/ before any I/O, and a non-member without a live membership', async () => {
    const [a] = await Promise.all(['hospital-a', 'hospital-b'].map((n) => makeMember(n)))
    const genesis = { members: [a!.identity], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
    const base = {
      privateKey: a!.libp2p,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      store: new MemoryReplicaStore(new Map()),
      logger: pino({ level: 'silent' }),
    }
    const codeOf = (make: () => unknown) => {
      try {
        make()
        return undefined
      } catch (err) {
        return isEhrlogError(err) ? `${err.code}: ${err.message}` : String(err)
      }
    }
    const live = new LiveMembership(MembershipHistory.fromChain(genesis, []))
    expect(
      codeOf(
        () =>
          new NetService({
            ...base,
            membership: live,
            self: 'hospital-d',
            join: ['/ip4/127.0.0.1/tcp/7400'],
          }),
      ),
    ).toMatch(/^CONFIG_INVALID: join address .* \/p2p\/<PeerId>/)
    // Joining needs a live membership: a fixed one can never admit it.
    expect(
      codeOf(
        () =>
          new NetService({ ...base, membership: Membership.fromJson(genesis), self: 'hospital-d' }),
      ),
    ).toMatch(/^CONFIG_INVALID: node name hospital-d is not a member/)
    expect(new NetService({ ...base, membership: live, self: 'hospital-d' }).admitted).toBe(false)
  })
})
