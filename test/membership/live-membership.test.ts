import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  genesisVersion,
  type Membership,
  MembershipHistory,
  type MembershipVersion,
} from '../../node/core/trust/index.ts'
import { LiveMembership, MEMBERSHIP_DIR } from '../../node/membership/live-membership.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

let members: TestMember[]
let keys: Map<string, TestMember>
let network: { members: unknown[]; vrfPublicKey: string }
let v0: MembershipVersion

beforeAll(async () => {
  members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  keys = new Map(members.map((m) => [m.identity.name, m]))
  network = {
    members: members.slice(0, 3).map((m) => m.identity),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  }
  v0 = genesisVersion(network).version
})

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : `not-ehrlog: ${String(err)}`
  }
}

describe('live membership: a change waits for the cut, is persisted, and is read back', () => {
  const tempDir = useTempDirs()

  it('applies the pending change at the cut, tells listeners, and a restart reads it back', async () => {
    const dir = await tempDir()
    const live = await LiveMembership.load(dir, network)
    const add = await signedChange(
      v0,
      { type: 'add', member: members[3]!.identity },
      ['hospital-a', 'hospital-b'],
      keys,
    )
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
    const add = await signedChange(
      v0,
      { type: 'add', member: members[3]!.identity },
      ['hospital-a', 'hospital-b'],
      keys,
    )
    const quorum = await signedChange(
      v0,
      { type: 'quorum', quorum: 3 },
      ['hospital-b', 'hospital-c'],
      keys,
    )
    live.offer(add)
    expect(await codeOf(() => live.offer(quorum))).toBe('EQUIVOCATION')
    await live.applyPending()
    expect(await codeOf(() => live.offer(quorum))).toBe('CHANGE_REPLAYED')
    expect(live.pending).toBeUndefined()
  })

  it('applies the pending change when a proposal names the version it makes, and catches up from a peer', async () => {
    const add = await signedChange(
      v0,
      { type: 'add', member: members[3]!.identity },
      ['hospital-a', 'hospital-b'],
      keys,
    )
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
    const add = await signedChange(
      v0,
      { type: 'add', member: members[3]!.identity },
      ['hospital-a', 'hospital-b'],
      keys,
    )
    live.offer(add)
    await live.applyPending()
    const { rename } = await import('node:fs/promises')
    await rename(join(dir, MEMBERSHIP_DIR, '000001.json'), join(dir, MEMBERSHIP_DIR, '000002.json'))
    expect(await codeOf(() => LiveMembership.load(dir, network))).toBe('CONFIG_INVALID')
  })
})
