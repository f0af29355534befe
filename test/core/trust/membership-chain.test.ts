import { beforeAll, describe, expect, it } from 'vitest'
import { blsProofOfPossession, blsPublicKey } from '../../../node/core/bls.ts'
import { isEhrlogError } from '../../../node/core/errors.ts'
import { toHex } from '../../../node/core/hex.ts'
import {
  applyProposal,
  checkEquivocation,
  followChain,
  genesisVersion,
  type MembershipChange,
  type MembershipVersion,
  networkKeysOf,
  proposalMessage,
  type SignedProposal,
  verifyChain,
  versionHash,
} from '../../../node/core/trust/index.ts'
import {
  freshKeys,
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from './membership-chain-fixtures.ts'

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
let keys: Map<string, TestMember>
let network: { members: unknown[]; vrfPublicKey: string }
let v0: MembershipVersion

beforeAll(async () => {
  const made = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  ;[a, b, c, d] = made as [TestMember, TestMember, TestMember, TestMember]
  keys = new Map([a, b, c, d].map((m) => [m.identity.name, m]))
  network = { members: [a, b, c].map((m) => m.identity), vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
  v0 = genesisVersion(network).version
})

const add = (): MembershipChange => ({ type: 'add', member: d.identity })

describe('membership chain: valid changes', () => {
  it('genesis is version 0 and its hash is the network id', () => {
    const { genesis, version } = genesisVersion(network)
    expect(version.number).toBe(0)
    expect(version.hash).toBe(genesis.networkId)
    expect(version.members.map((m) => m.name)).toEqual(['hospital-a', 'hospital-b', 'hospital-c'])
    expect(version.quorum).toBeUndefined()
  })

  it('a quorum of the members adds a member; the new version is hashed over the signed message', async () => {
    const signed = await signedChange(v0, add(), ['hospital-b', 'hospital-c'], keys)
    const v1 = applyProposal(v0, signed)
    expect(v1.number).toBe(1)
    expect(v1.hash).toBe(versionHash(proposalMessage(signed.proposal)))
    expect(v1.hash).not.toBe(v0.hash)
    expect(v1.networkId).toBe(v0.networkId) // the network id stays the genesis id
    expect(v1.members.map((m) => m.name)).toEqual([
      'hospital-a',
      'hospital-b',
      'hospital-c',
      'hospital-d',
    ])
    // More signatures make the same version: the hash covers the message, not the signers.
    const more = await signedChange(v0, add(), ['hospital-b', 'hospital-c', 'hospital-a'], keys)
    expect(applyProposal(v0, more).hash).toBe(v1.hash)
  })

  it('verifyChain follows add, addresses, quorum, rotations and remove from the pinned genesis', async () => {
    const changes: SignedProposal[] = []
    let v = v0
    const step = async (change: MembershipChange, signers: string[]) => {
      const signed = await signedChange(v, change, signers, keys)
      changes.push(signed)
      v = applyProposal(v, signed)
      return v
    }
    await step(add(), ['hospital-a', 'hospital-b'])
    await step({ type: 'addresses', name: 'hospital-d', addresses: ['/dns4/d.example/tcp/7400'] }, [
      'hospital-d',
      'hospital-a',
      'hospital-b',
    ])
    await step({ type: 'quorum', quorum: 4 }, ['hospital-a', 'hospital-b', 'hospital-c'])
    const fresh = await freshKeys()
    const newBls = {
      type: 'rotate-bls',
      name: 'hospital-c',
      blsPublicKey: blsKeyOf(fresh).blsPublicKey,
      blsProofOfPossession: blsKeyOf(fresh).blsProofOfPossession,
      oldKey: 'held',
    } as const
    await step(newBls, ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'])
    // Lost: no old-key signature, the quorum alone.
    const lostPeer = (await makeMember('x')).identity.peerId
    await step({ type: 'rotate-libp2p', name: 'hospital-a', peerId: lostPeer, oldKey: 'lost' }, [
      'hospital-b',
      'hospital-c',
      'hospital-d',
      'hospital-a',
    ])
    await step({ type: 'quorum', quorum: 3 }, [
      'hospital-a',
      'hospital-b',
      'hospital-c',
      'hospital-d',
    ])
    await step({ type: 'remove', name: 'hospital-b' }, ['hospital-a', 'hospital-c', 'hospital-d'])

    const chain = verifyChain(network, changes)
    expect(chain.versions.map((x) => x.number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(chain.current).toEqual(v)
    expect(chain.current.members.map((m) => m.name)).toEqual([
      'hospital-a',
      'hospital-c',
      'hospital-d',
    ])
    expect(chain.current.members[0]!.peerId).toBe(lostPeer)
    expect(chain.current.members[1]!.blsPublicKey).toBe(newBls.blsPublicKey)
    expect(chain.current.members[2]!.addresses).toEqual(['/dns4/d.example/tcp/7400'])
    expect(chain.current.quorum).toBe(3)
    // The keys a checkpoint of this version is checked with: the genesis id, this version's keys.
    const keysNow = networkKeysOf(chain.current)
    expect(keysNow.networkId).toBe(genesisVersion(network).genesis.networkId)
    expect(keysNow.blsKeys.map(toHex)).toEqual(chain.current.members.map((m) => m.blsPublicKey))
    expect(toHex(keysNow.ed25519Keys.get('hospital-d')!)).toBe(d.identity.ed25519PublicKey)
    expect(keysNow.ed25519Keys.has('hospital-b')).toBe(false)
  })
})

function blsKeyOf(fresh: Awaited<ReturnType<typeof freshKeys>>) {
  return {
    blsPublicKey: toHex(blsPublicKey(fresh.bls)),
    blsProofOfPossession: toHex(blsProofOfPossession(fresh.bls)),
  }
}

describe('membership chain: bad input is refused with a clear code and changes nothing', () => {
  it('a signature by a non-member: SIGNER_UNKNOWN; a non-member proposer too', async () => {
    const signed = await signedChange(v0, add(), ['hospital-a', 'hospital-d'], keys)
    const before = structuredClone(v0)
    expect(codeOf(() => applyProposal(v0, signed))).toBe('SIGNER_UNKNOWN')
    expect(v0).toEqual(before)
    const byOutsider = await signedChange(
      v0,
      add(),
      ['hospital-d', 'hospital-a', 'hospital-b'],
      keys,
    )
    expect(codeOf(() => applyProposal(v0, byOutsider))).toBe('SIGNER_UNKNOWN')
  })

  it('too few members, or a proposer that did not sign: QUORUM_NOT_MET', async () => {
    const one = await signedChange(v0, add(), ['hospital-a'], keys)
    expect(codeOf(() => applyProposal(v0, one))).toBe('QUORUM_NOT_MET')
    const withoutProposer = await signedChange(
      v0,
      add(),
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    withoutProposer.signatures = withoutProposer.signatures.filter((s) => s.signer !== 'hospital-a')
    expect(codeOf(() => applyProposal(v0, withoutProposer))).toBe('QUORUM_NOT_MET')
  })

  it('a bad signature: INVALID_SIGNATURE, naming the signer', async () => {
    const signed = await signedChange(v0, add(), ['hospital-a', 'hospital-b'], keys)
    const sig = signed.signatures[1]!
    sig.signature = (sig.signature[0] === '0' ? '1' : '0') + sig.signature.slice(1)
    try {
      applyProposal(v0, signed)
      expect.unreachable()
    } catch (err) {
      expect(isEhrlogError(err, 'INVALID_SIGNATURE')).toBe(true)
      expect((err as Error).message).toContain("hospital-b's signature does not verify")
    }
  })

  it('replayed: CHANGE_REPLAYED; out of order: CHANGE_OUT_OF_ORDER; another chain or network: CHAIN_BROKEN', async () => {
    const first = await signedChange(v0, add(), ['hospital-a', 'hospital-b'], keys)
    const v1 = applyProposal(v0, first)
    expect(codeOf(() => verifyChain(network, [first, first]))).toBe('CHANGE_REPLAYED')
    const second = await signedChange(
      v1,
      { type: 'quorum', quorum: 4 },
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    expect(codeOf(() => verifyChain(network, [second, first]))).toBe('CHANGE_OUT_OF_ORDER')
    expect(codeOf(() => verifyChain(network, [first, second]))).toBeUndefined()
    const otherChain = { ...v1, hash: 'ab'.repeat(32) }
    const forked = await signedChange(
      otherChain,
      { type: 'quorum', quorum: 4 },
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    expect(codeOf(() => applyProposal(v1, forked))).toBe('CHAIN_BROKEN')
    const otherNetwork = { ...v0, networkId: 'cd'.repeat(32) }
    const elsewhere = await signedChange(otherNetwork, add(), ['hospital-a', 'hospital-b'], keys)
    expect(codeOf(() => applyProposal(v0, elsewhere))).toBe('CHAIN_BROKEN')
    try {
      verifyChain(network, [first, first])
    } catch (err) {
      expect((err as { details: { index: number } }).details.index).toBe(1)
    }
  })

  it("adding a name, key or PeerId that is already a member's: MEMBER_CONFLICT", async () => {
    for (const field of ['name', 'ed25519PublicKey', 'blsPublicKey', 'peerId'] as const) {
      const member = { ...d.identity, [field]: b.identity[field] }
      if (field === 'blsPublicKey') member.blsProofOfPossession = b.identity.blsProofOfPossession
      const signed = await signedChange(
        v0,
        { type: 'add', member },
        ['hospital-a', 'hospital-b'],
        keys,
      )
      expect(
        codeOf(() => applyProposal(v0, signed)),
        field,
      ).toBe('MEMBER_CONFLICT')
    }
    // Rotating to another member's key, or to the member's own current key.
    for (const ed25519PublicKey of [a.identity.ed25519PublicKey, c.identity.ed25519PublicKey]) {
      const change = {
        type: 'rotate-ed25519',
        name: 'hospital-c',
        ed25519PublicKey,
        oldKey: 'lost',
      } as const
      const signed = await signedChange(v0, change, ['hospital-a', 'hospital-b'], keys)
      expect(codeOf(() => applyProposal(v0, signed))).toBe('MEMBER_CONFLICT')
    }
  })

  it('a bad proof of possession: INVALID_PROOF', async () => {
    const member = { ...d.identity, blsProofOfPossession: c.identity.blsProofOfPossession }
    const signed = await signedChange(
      v0,
      { type: 'add', member },
      ['hospital-a', 'hospital-b'],
      keys,
    )
    expect(codeOf(() => applyProposal(v0, signed))).toBe('INVALID_PROOF')
  })

  it('a rotation with the old key held needs that key to sign: INVALID_SIGNATURE otherwise', async () => {
    const fresh = await freshKeys()
    const change = {
      type: 'rotate-ed25519',
      name: 'hospital-c',
      ed25519PublicKey: (await makeMember('y')).identity.ed25519PublicKey,
      oldKey: 'held',
    } as const
    const signed = await signedChange(v0, change, ['hospital-a', 'hospital-b'], keys)
    expect(applyProposal(v0, signed).members[2]!.ed25519PublicKey).toBe(change.ed25519PublicKey)
    const { oldKeySignature: _, ...missing } = signed
    expect(codeOf(() => applyProposal(v0, missing))).toBe('INVALID_SIGNATURE')
    // Signed by some other key than hospital-c's.
    const wrong = await signedChange(
      v0,
      change,
      ['hospital-a', 'hospital-b'],
      new Map([...keys, ['hospital-c', { ...c, feedKey: fresh.feedKey }]]),
    )
    expect(codeOf(() => applyProposal(v0, wrong))).toBe('INVALID_SIGNATURE')
    // "lost" carries no old-key signature.
    const lostChange = { ...change, oldKey: 'lost' as const }
    const lost = await signedChange(v0, lostChange, ['hospital-a', 'hospital-b'], keys)
    expect(applyProposal(v0, lost).members[2]!.ed25519PublicKey).toBe(change.ed25519PublicKey)
    const withOld = { ...lost, oldKeySignature: signed.oldKeySignature }
    expect(codeOf(() => applyProposal(v0, withOld))).toBe('MESSAGE_INVALID')
  })

  it('the quorum stays between a majority and all members: MESSAGE_INVALID', async () => {
    for (const quorum of [1, 4]) {
      const signed = await signedChange(
        v0,
        { type: 'quorum', quorum },
        ['hospital-a', 'hospital-b', 'hospital-c'],
        keys,
      )
      expect(
        codeOf(() => applyProposal(v0, signed)),
        String(quorum),
      ).toBe('MESSAGE_INVALID')
    }
    const all = await signedChange(
      v0,
      { type: 'quorum', quorum: 3 },
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    const v1 = applyProposal(v0, all)
    expect(v1.quorum).toBe(3)
    // Removing a member would leave 3 of 2: lower the quorum first.
    const remove = await signedChange(
      v1,
      { type: 'remove', name: 'hospital-c' },
      ['hospital-a', 'hospital-b', 'hospital-c'],
      keys,
    )
    expect(codeOf(() => applyProposal(v1, remove))).toBe('MESSAGE_INVALID')
    // Two of three no longer suffice under quorum 3.
    const two = await signedChange(v1, add(), ['hospital-a', 'hospital-b'], keys)
    expect(codeOf(() => applyProposal(v1, two))).toBe('QUORUM_NOT_MET')
  })

  it('an unknown member, a malformed proposal, an undialable address: MESSAGE_INVALID naming the field', async () => {
    const ghost = await signedChange(
      v0,
      { type: 'remove', name: 'hospital-z' },
      ['hospital-a', 'hospital-b'],
      keys,
    )
    expect(codeOf(() => applyProposal(v0, ghost))).toBe('MESSAGE_INVALID')
    const bad = await signedChange(
      v0,
      { type: 'addresses', name: 'hospital-a', addresses: ['not a multiaddr'] },
      ['hospital-a', 'hospital-b'],
      keys,
    )
    expect(codeOf(() => applyProposal(v0, bad))).toBe('MESSAGE_INVALID')
    try {
      applyProposal(v0, { proposal: { ...ghost.proposal, extra: 1 }, signatures: [] })
      expect.unreachable()
    } catch (err) {
      expect(isEhrlogError(err, 'MESSAGE_INVALID')).toBe(true)
      expect((err as { details: { field: string } }).details.field).toBe('proposal.extra')
    }
  })
})

describe('membership chain: equivocation and following proposal files', () => {
  it('two different changes each signed by a quorum on one version: EQUIVOCATION with both and who signed both', async () => {
    const first = await signedChange(v0, add(), ['hospital-a', 'hospital-b'], keys)
    const second = await signedChange(
      v0,
      { type: 'remove', name: 'hospital-a' },
      ['hospital-c', 'hospital-b'],
      keys,
    )
    try {
      checkEquivocation(v0, first, second)
      expect.unreachable()
    } catch (err) {
      expect(isEhrlogError(err, 'EQUIVOCATION')).toBe(true)
      const details = (err as { details: Record<string, unknown> }).details
      expect(details.signedBoth).toEqual(['hospital-b'])
      expect(details.baseVersion).toBe(0)
      expect(details.first).toEqual(first)
      expect(details.second).toEqual(second)
    }
    // The same change with other signers is no equivocation; nor is one short of its quorum.
    const same = await signedChange(v0, add(), ['hospital-a', 'hospital-c'], keys)
    expect(codeOf(() => checkEquivocation(v0, first, same))).toBeUndefined()
    const short = await signedChange(
      v0,
      { type: 'remove', name: 'hospital-a' },
      ['hospital-c'],
      keys,
    )
    expect(codeOf(() => checkEquivocation(v0, first, short))).toBeUndefined()
  })

  it('followChain merges copies signed apart, applies what a quorum reached and reports the rest', async () => {
    const byA = await signedChange(v0, add(), ['hospital-a'], keys)
    const byB = {
      ...byA,
      signatures: (
        await signedChange(v0, add(), ['hospital-a', 'hospital-b'], keys)
      ).signatures.filter((s) => s.signer === 'hospital-b'),
    }
    const v1 = applyProposal(v0, await signedChange(v0, add(), ['hospital-a', 'hospital-b'], keys))
    const pendingOn1 = await signedChange(v1, { type: 'quorum', quorum: 4 }, ['hospital-d'], keys)
    const stale = await signedChange(
      v0,
      { type: 'remove', name: 'hospital-c' },
      ['hospital-c'],
      keys,
    )
    const followed = followChain(network, [
      { source: 'a.json', value: byA },
      { source: 'b.json', value: byB },
      { source: 'q.json', value: pendingOn1 },
      { source: 'old.json', value: stale },
      { source: 'junk.json', value: { hello: 1 } },
    ])
    expect(followed.current.hash).toBe(v1.hash)
    expect(followed.applied[0]!.sources).toEqual(['a.json', 'b.json'])
    expect(followed.applied[0]!.signers.sort()).toEqual(['hospital-a', 'hospital-b'])
    expect(followed.pending.map((p) => [p.sources, p.signers, p.quorum])).toEqual([
      [['q.json'], ['hospital-d'], 3],
    ])
    expect(followed.refused.map((r) => [r.sources[0], r.error.code]).sort()).toEqual([
      ['junk.json', 'MESSAGE_INVALID'],
      ['old.json', 'CHANGE_REPLAYED'],
    ])
    expect(followed.equivocation).toBeUndefined()
  })
})
