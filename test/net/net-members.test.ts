import { describe, expect, it } from 'vitest'
import { Membership, MembershipHistory } from '../../node/core/trust/index.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import { NetMembers } from '../../node/net/net-members.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
} from '../core/trust/membership-chain-fixtures.ts'

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
  })
})
