import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { addSignature, MembershipHistory, proposeChange } from '../../node/core/trust/index.ts'
import type { MembershipRecord } from '../../node/core/trust/membership-record.ts'
import { silentLogger } from '../../node/logger.ts'
import { GovernanceService } from '../../node/membership/governance.ts'
import { noticeId } from '../../node/membership/governance-mail.ts'
import { encodeGovernanceMessage } from '../../node/membership/governance-messages.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import {
  freshKeys,
  makeMember,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * GovernanceService on its own: members' services wired publish → handle directly (the real
 * topic is exercised in governance.test.ts with libp2p nodes; here the steps are made one by
 * one), real LiveMembership, real votes files in temp folders.
 */

let members: TestMember[]
let network: unknown

beforeAll(async () => {
  members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  network = { members: members.map((m) => m.identity), vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
})

interface Member {
  service: GovernanceService
  live: LiveMembership
  records: MembershipRecord[]
  notices: string[]
  /** What it published. */
  sent: Uint8Array[]
}

describe('GovernanceService', () => {
  const tempDir = useTempDirs()
  // Registered after the temp folders' hook, so it runs before it: pending.json saves end first.
  const started: GovernanceService[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()))
  })

  /** One service per member; what one publishes reaches the others' handle at once. */
  async function wire(known = new Set<string>()): Promise<Member[]> {
    const out: Member[] = []
    for (const m of members) {
      const live = new LiveMembership(MembershipHistory.fromChain(network, []))
      const records: MembershipRecord[] = []
      const notices: string[] = []
      const sent: Uint8Array[] = []
      const service = new GovernanceService({
        live,
        keys: {
          name: m.identity.name,
          signingKey: m.feedKey,
          blsSecretKey: m.bls,
          libp2pPrivateKey: m.libp2p,
        },
        dir: await tempDir(),
        publish: async (data) => {
          sent.push(data)
          for (const other of out)
            if (other.service !== service) await other.service.handle(data, m.identity.name)
        },
        record: async (r) => void records.push(r),
        notify: async (n) => {
          const id = noticeId(n.node, n.record)
          known.add(id)
          notices.push(n.subject)
        },
        known: async (n) => known.has(noticeId(n.node, n.record)),
        logger: silentLogger(),
        republishMs: 0,
      })
      await service.start()
      started.push(service)
      out.push({ service, live, records, notices, sent })
    }
    return out
  }

  it("a rotation of a held key waits for that key; the member's own signature through its node adds it", async () => {
    const [a, b, c] = await wire()
    const next = await freshKeys()
    const proposed = await a!.service.propose('admin@hospital-a', {
      type: 'rotate-ed25519',
      name: 'hospital-b',
      ed25519PublicKey: toHex(ed25519RawPublicKey(next.feedKey)),
      oldKey: 'held',
    })
    // C signs: a quorum of members, but not yet the old key.
    const byC = await c!.service.sign('admin@hospital-c', proposed.id)
    expect(byC).toMatchObject({ state: 'pending', waitingFor: "hospital-b's old ed25519 key" })
    expect(a!.live.pending).toBeUndefined()
    const byB = await b!.service.sign('admin@hospital-b', proposed.id)
    expect(byB).toMatchObject({ state: 'accepted', oldKeySigned: true })
    for (const m of [a, b, c]) {
      expect(m!.live.pending?.oldKeySignature).toBeDefined()
      await m!.service.flushed()
    }
    const onA = a!.records.map((r) =>
      r.op === 'signed' ? `${r.signer}${r.oldKey ? ':old' : ''}` : r.op,
    )
    expect(onA).toEqual(['proposed', 'hospital-a', 'hospital-c', 'hospital-b', 'hospital-b:old'])
  })

  it('a change proposed while another waits for its cut goes on the next version and is offered once that one applies', async () => {
    const [a, b, c] = await wire()
    const first = await a!.service.propose('admin@hospital-a', { type: 'quorum', quorum: 3 })
    await b!.service.sign('admin@hospital-b', first.id)
    expect(c!.live.pending).toBeDefined()
    const second = await c!.service.propose('admin@hospital-c', {
      type: 'addresses',
      name: 'hospital-c',
      addresses: ['/ip4/10.0.0.9/tcp/7400'],
    })
    expect(second.proposal.baseVersion).toBe(1)
    expect(second.quorum).toBe(3)
    await a!.service.sign('admin@hospital-a', second.id)
    await b!.service.sign('admin@hospital-b', second.id)
    // Held, not offered: version 1 is not in force yet anywhere.
    expect(a!.live.pending?.proposal.baseVersion).toBe(0)
    for (const m of [a, b, c]) await m!.live.applyPending()
    await Promise.all([a, b, c].map((m) => m!.service.flushed()))
    // The cut applied version 1; the second change, already signed by all 3, waits for the next.
    for (const m of [a, b, c]) {
      expect(m!.live.current.version).toBe(1)
      expect(m!.live.pending?.proposal.baseVersion).toBe(1)
    }
    expect(a!.records.filter((r) => r.op === 'applied')).toEqual([
      expect.objectContaining({ op: 'applied', id: first.id, version: 1 }),
    ])
  })

  it("a proposal signed by a member's rotated-out Ed25519 key is refused and alerted", async () => {
    const [a, b, c] = await wire()
    const next = await freshKeys()
    const rotation = await b!.service.propose('admin@hospital-b', {
      type: 'rotate-ed25519',
      name: 'hospital-b',
      ed25519PublicKey: toHex(ed25519RawPublicKey(next.feedKey)),
      oldKey: 'held',
    })
    await a!.service.sign('admin@hospital-a', rotation.id)
    for (const m of [a, b, c]) await m!.live.applyPending()
    expect(a!.live.current.version).toBe(1)
    // Someone holding hospital-b's old key proposes on version 1 in its name.
    const v1 = a!.live.history.versions[1]!
    const forged = addSignature(
      { proposal: proposeChange(v1, 'hospital-b', { type: 'quorum', quorum: 3 }), signatures: [] },
      'hospital-b',
      members[1]!.feedKey,
    )
    expect(await a!.service.handle(encodeGovernanceMessage(forged), 'hospital-c')).toBe(false)
    await a!.service.flushed()
    expect(a!.records.filter((r) => r.op === 'alert')).toEqual([
      expect.objectContaining({
        alert: 'rotated-key-signature',
        members: ['hospital-b'],
        version: 1,
      }),
    ])
    expect(a!.service.view().proposals).toEqual([])
    // B's own node, its new key not installed yet, signs nothing: it would be the same refusal.
    await expect(
      b!.service.propose('admin@hospital-b', { type: 'quorum', quorum: 3 }),
    ).rejects.toMatchObject({ code: 'SIGNER_UNKNOWN', details: { field: 'ed25519PublicKey' } })
  })

  it('after a restart, what was recorded and emailed before is not again', async () => {
    const known = new Set<string>()
    const [a, b] = await wire(known)
    await a!.service.propose('admin@hospital-a', { type: 'quorum', quorum: 3 })
    await Promise.all([a, b].map((m) => m!.service.flushed()))
    expect(b!.records.map((r) => r.op)).toEqual(['proposed', 'signed'])
    // B restarts: an empty pool, the same emails known; A's proposal comes again (republished).
    const [, b2] = await wire(known)
    expect(b2!.service.view().proposals).toEqual([])
    expect(await b2!.service.handle(a!.sent[0]!, 'hospital-a')).toBe(true)
    await b2!.service.flushed()
    expect(b2!.service.view().proposals.map((p) => p.signers)).toEqual([['hospital-a']])
    expect(b2!.records).toEqual([])
    expect(b2!.notices).toEqual([])
  })
})
