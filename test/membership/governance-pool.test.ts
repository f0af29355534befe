import { beforeAll, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import {
  addSignature,
  genesisVersion,
  type MembershipChange,
  type MembershipVersion,
  proposeChange,
  type SignedProposal,
} from '../../node/core/trust/index.ts'
import { membershipRecordSchema } from '../../node/core/trust/membership-record.ts'
import {
  decodeGovernanceMessage,
  encodeGovernanceMessage,
} from '../../node/membership/governance-messages.ts'
import {
  GovernancePool,
  MAX_PROPOSALS_PER_VERSION,
  proposalId,
} from '../../node/membership/governance-pool.ts'
import {
  makeMember,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : `not-ehrlog: ${String(err)}`
  }
}

let a: TestMember
let b: TestMember
let c: TestMember
let d: TestMember
let v0: MembershipVersion

beforeAll(async () => {
  ;[a, b, c, d] = (await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )) as [TestMember, TestMember, TestMember, TestMember]
  v0 = genesisVersion({
    members: [a, b, c].map((m) => m.identity),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  }).version
})

function proposal(by: TestMember, change: MembershipChange, signers: TestMember[] = [by]) {
  let signed: SignedProposal = {
    proposal: proposeChange(v0, by.identity.name, change),
    signatures: [],
  }
  for (const s of signers) signed = addSignature(signed, s.identity.name, s.feedKey)
  return signed
}

describe('the governance pool', () => {
  it('merges copies signed apart into one proposal; accepted at the quorum, not before', () => {
    const pool = new GovernancePool()
    const byA = proposal(a, { type: 'quorum', quorum: 3 })
    const first = pool.merge(v0, byA)
    expect([first.isNew, first.nowAccepted, first.added.map((x) => x.signer)]).toEqual([
      true,
      false,
      ['hospital-a'],
    ])
    // The same copy again adds nothing.
    expect(pool.merge(v0, byA).added).toEqual([])
    // C's copy carries only C's signature: merged in, the quorum (2 of 3) is reached.
    const byC = addSignature({ ...byA, signatures: [] }, 'hospital-c', c.feedKey)
    const merged = pool.merge(v0, byC)
    expect(merged.nowAccepted).toBe(true)
    expect(merged.entry.signers).toEqual(['hospital-a', 'hospital-c'])
    expect(merged.entry.id).toBe(proposalId(byA))
    expect(merged.entry.accepted?.number).toBe(1)
    expect(pool.on(0)).toHaveLength(1)
  })

  it('refuses a whole copy with a non-member signer, a bad signature, no proposer signature or a bad change; nothing is kept', () => {
    const pool = new GovernancePool()
    const byA = proposal(a, { type: 'quorum', quorum: 3 })
    const stranger = addSignature(byA, 'hospital-d', d.feedKey)
    expect(codeOf(() => pool.merge(v0, stranger))).toBe('SIGNER_UNKNOWN')
    const forged = {
      ...byA,
      signatures: [{ signer: 'hospital-b', signature: byA.signatures[0]!.signature }],
    }
    expect(
      codeOf(() =>
        pool.merge(v0, { ...forged, signatures: [...byA.signatures, ...forged.signatures] }),
      ),
    ).toBe('INVALID_SIGNATURE')
    expect(codeOf(() => pool.merge(v0, proposal(a, { type: 'quorum', quorum: 3 }, [b])))).toBe(
      'QUORUM_NOT_MET',
    )
    expect(
      codeOf(() =>
        pool.merge(v0, proposal(a, { type: 'add', member: { ...b.identity, name: 'hospital-x' } })),
      ),
    ).toBe('MEMBER_CONFLICT')
    expect(codeOf(() => pool.merge(v0, proposal(d, { type: 'quorum', quorum: 3 }, [])))).toBe(
      'SIGNER_UNKNOWN',
    )
    expect(pool.all()).toEqual([])
  })

  it(`holds at most ${MAX_PROPOSALS_PER_VERSION} proposals per version; pruned once the version is passed`, () => {
    const pool = new GovernancePool()
    for (let i = 0; i < MAX_PROPOSALS_PER_VERSION; i++)
      pool.merge(
        v0,
        proposal(a, {
          type: 'addresses',
          name: 'hospital-a',
          addresses: [`/ip4/10.0.1.${i}/tcp/7400`],
        }),
      )
    expect(
      codeOf(() =>
        pool.merge(v0, proposal(b, { type: 'addresses', name: 'hospital-b', addresses: [] })),
      ),
    ).toBe('RATE_LIMITED')
    pool.prune(1)
    expect(pool.all()).toEqual([])
  })

  it('two accepted changes on one version are an equivocation naming who signed both', () => {
    const pool = new GovernancePool()
    pool.merge(v0, proposal(a, { type: 'quorum', quorum: 3 }, [a, b]))
    expect(pool.equivocation(v0)).toBeUndefined()
    pool.merge(v0, proposal(c, { type: 'remove', name: 'hospital-a' }, [b, c]))
    expect(pool.equivocation(v0)?.signedBoth).toEqual(['hospital-b'])
  })

  it('messages round-trip; anything else is MESSAGE_INVALID', () => {
    const signed = proposal(a, { type: 'quorum', quorum: 3 })
    expect(decodeGovernanceMessage(encodeGovernanceMessage(signed))).toEqual(signed)
    const bad = (text: string) =>
      codeOf(() => decodeGovernanceMessage(new TextEncoder().encode(text)))
    expect(bad('not json')).toBe('MESSAGE_INVALID')
    expect(bad(JSON.stringify({ v: 2, type: 'proposal', signed }))).toBe('MESSAGE_INVALID')
    expect(bad(JSON.stringify({ v: 1, type: 'proposal', signed, extra: 1 }))).toBe(
      'MESSAGE_INVALID',
    )
    expect(bad(JSON.stringify({ v: 1, type: 'proposal', signed: { ...signed, more: 1 } }))).toBe(
      'MESSAGE_INVALID',
    )
  })

  it('membership records are strict', () => {
    const signed = proposal(a, { type: 'quorum', quorum: 3 })
    const id = proposalId(signed)
    expect(
      membershipRecordSchema.safeParse({ op: 'proposed', id, proposal: signed.proposal }).success,
    ).toBe(true)
    expect(
      membershipRecordSchema.safeParse({ op: 'proposed', id, proposal: signed.proposal, x: 1 })
        .success,
    ).toBe(false)
    expect(
      membershipRecordSchema.safeParse({ op: 'applied', id, version: 0, signers: [] }).success,
    ).toBe(false)
    expect(
      membershipRecordSchema.safeParse({
        op: 'alert',
        alert: 'other',
        members: [],
        ids: [],
        version: 0,
        summary: 'x',
      }).success,
    ).toBe(false)
  })
})
