import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Membership, MembershipHistory } from '../../node/core/trust/index.ts'
import { LiveMembership, MEMBERSHIP_DIR } from '../../node/membership/live-membership.ts'
import { signedChange } from '../core/trust/membership-chain-fixtures.ts'
import {
  codeOfAsync as codeOf,
  makeTestNetwork,
  type TestNetwork,
} from '../core/trust/membership-test-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

let t: TestNetwork
let network: TestNetwork['network']

beforeAll(async () => {
  t = await makeTestNetwork()
  network = t.network
})

describe('live membership: a change waits for the cut, is persisted, and is read back', () => {
  const tempDir = useTempDirs()

  it('applies the pending change at the cut, tells listeners, and a restart reads it back', async () => {
    const dir = await tempDir()
    const live = await LiveMembership.load(dir, network)
    const add = await t.addFourth()
    expect(live.offer(add)).toBe(true)
    expect(live.offer(add)).toBe(false) // the same change again: nothing new
    expect(live.current.version).toBe(0) // not before the cut
    const told: Array<[number, number]> = []
    live.onChange((now: Membership, before: Membership) => told.push([before.version, now.version]))
    expect(await live.applyPending()).toBe(true)
    expect(told).toEqual([[0, 1]])
    expect(live.current.members.map((m) => m.name)).toContain('hospital-d')
    expect(await readdir(join(dir, MEMBERSHIP_DIR))).toEqual(['000001.json'])
    const again = await LiveMembership.load(dir, network)
    expect(again.current.versionHash).toBe(live.current.versionHash)
    // Version 0 still answers for what was signed under it.
    expect(again.at(0)!.members).toHaveLength(3)
  })

  it('refuses a second change on the same version as an equivocation, and a stale one', async () => {
    const live = new LiveMembership(MembershipHistory.fromChain(network, []))
    const add = await t.addFourth()
    const quorum = await signedChange(
      t.v0,
      { type: 'quorum', quorum: 3 },
      ['hospital-b', 'hospital-c'],
      t.keys,
    )
    live.offer(add)
    expect(await codeOf(() => live.offer(quorum))).toBe('EQUIVOCATION')
    await live.applyPending()
    expect(await codeOf(() => live.offer(quorum))).toBe('CHANGE_REPLAYED')
    expect(live.pending).toBeUndefined()
  })

  it('applies the pending change when a proposal names the version it makes, and catches up from a peer', async () => {
    const add = await t.addFourth()
    const ahead = new LiveMembership(MembershipHistory.fromChain(network, [add]))
    const live = new LiveMembership(MembershipHistory.fromChain(network, []))
    const next = { version: 1, hash: ahead.current.versionHash }
    expect(await live.applyFor(next)).toBe(false) // nothing pending
    live.offer(add)
    expect(await live.applyFor({ version: 1, hash: '00'.repeat(32) })).toBe(false)
    expect(await live.applyFor(next)).toBe(true)
    expect(live.current.version).toBe(1)

    const behind = new LiveMembership(MembershipHistory.fromChain(network, []))
    expect(await behind.catchUp(ahead.history.applied)).toBe(1)
    expect(behind.current.versionHash).toBe(ahead.current.versionHash)
    expect(await behind.catchUp(ahead.history.applied)).toBe(0) // already there
  })

  it('refuses a folder with a gap in its numbering', async () => {
    const dir = await tempDir()
    const live = await LiveMembership.load(dir, network)
    const add = await t.addFourth()
    live.offer(add)
    await live.applyPending()
    const { rename } = await import('node:fs/promises')
    await rename(join(dir, MEMBERSHIP_DIR, '000001.json'), join(dir, MEMBERSHIP_DIR, '000002.json'))
    expect(await codeOf(() => LiveMembership.load(dir, network))).toBe('CONFIG_INVALID')
  })
})
