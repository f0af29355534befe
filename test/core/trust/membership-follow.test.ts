import { beforeAll, describe, expect, it } from 'vitest'
import { blsSign } from '../../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointSigningMessage,
  cosignedToJson,
} from '../../../node/core/checkpoint.ts'
import { type EhrlogError, isEhrlogError } from '../../../node/core/errors.ts'
import { fromHex } from '../../../node/core/hex.ts'
import {
  changesUpTo,
  followChanges,
  followMembershipAnswer,
  genesisVersion,
  MembershipHistory,
  membershipAnswerOf,
  type SignedProposal,
  verifyCheckpoint,
  verifyQueryAnswer,
} from '../../../node/core/trust/index.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from './membership-chain-fixtures.ts'

/** The error `fn` throws (an EhrlogError), or a test failure. */
function errorOf(fn: () => unknown): EhrlogError {
  try {
    fn()
  } catch (err) {
    if (isEhrlogError(err)) return err
    throw err
  }
  throw new Error('did not throw')
}

let members: TestMember[]
let keys: Map<string, TestMember>
let network: { members: unknown[]; vrfPublicKey: string }
let genesis: MembershipHistory
/** add hospital-d (version 1), then quorum 4 (version 2). */
let add: SignedProposal
let quorum: SignedProposal
/** Another change on version 0, also signed by a quorum: a fork of the chain. */
let rival: SignedProposal
let full: MembershipHistory

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
  const v0 = genesisVersion(network).version
  genesis = MembershipHistory.fromChain(network, [])
  add = await signedChange(
    v0,
    { type: 'add', member: members[3]!.identity },
    ['hospital-a', 'hospital-b'],
    keys,
  )
  const h1 = genesis.extend(add)
  quorum = await signedChange(
    h1.versions[1]!,
    { type: 'quorum', quorum: 4 },
    ['hospital-b', 'hospital-c', 'hospital-d'],
    keys,
  )
  full = h1.extend(quorum)
  rival = await signedChange(
    v0,
    { type: 'addresses', name: 'hospital-c', addresses: ['/ip4/10.9.9.9/tcp/7400'] },
    ['hospital-c', 'hospital-a'],
    keys,
  )
})

/** A checkpoint with no feeds cosigned under `history`'s version n by every member of it. */
function cosignedAt(history: MembershipHistory, n: number) {
  const m = history.at(n)!
  const checkpoint: Checkpoint = {
    networkId: fromHex(m.networkId, 32)!,
    membership: { version: n, hash: fromHex(m.versionHash, 32)! },
    timeMs: 1_000 + n,
    feeds: [],
  }
  const message = checkpointSigningMessage(checkpoint)
  const sigs = new Map(m.members.map((x, i) => [i, blsSign(keys.get(x.name)!.bls, message)]))
  return aggregateCosignatures(checkpoint, sigs, m.members.length)
}

describe('clients follow the membership chain from the genesis they pinned', () => {
  it('follows a node’s answer from genesis, or after the version already held', () => {
    const answer = membershipAnswerOf(full, 0)
    expect(answer.changes).toHaveLength(2)
    expect(answer.latest).toEqual({ version: 2, hash: full.versions[2]!.hash })
    const followed = followMembershipAnswer(genesis, answer)
    expect(followed.latest).toBe(2)
    expect(followed.current.members.map((m) => m.name)).toContain('hospital-d')
    expect(followed.current.quorum).toBe(4)
    // Asked after version 1: only the second change comes, and it extends the held chain.
    const h1 = genesis.extend(add)
    const after1 = membershipAnswerOf(full, 1)
    expect(after1.changes).toHaveLength(1)
    expect(followMembershipAnswer(h1, after1).versions.map((v) => v.hash)).toEqual(
      full.versions.map((v) => v.hash),
    )
    // Past its newest, a node answers no change and its newest version.
    expect(membershipAnswerOf(full, 7)).toMatchObject({ after: 2, changes: [] })
  })

  it('keeps the longer chain it holds when the node is behind', () => {
    const behind = membershipAnswerOf(genesis.extend(add), 0)
    const kept = followMembershipAnswer(full, behind)
    expect(kept.latest).toBe(2)
  })

  it('refuses a tampered chain naming the change: a dropped signature, a swapped order, a forged change', () => {
    const dropped = structuredClone(add)
    dropped.signatures = dropped.signatures.slice(0, 1)
    const e1 = errorOf(() =>
      followMembershipAnswer(genesis, {
        ...membershipAnswerOf(full, 0),
        changes: [dropped, quorum],
      }),
    )
    expect(e1.code).toBe('QUORUM_NOT_MET')
    expect(e1.details).toMatchObject({ version: 1, index: 0 })
    expect(e1.message).toMatch(/^membership change 1 from the node \(index 0\) is refused: 1 of 3/)

    const swapped = errorOf(() =>
      followMembershipAnswer(genesis, { ...membershipAnswerOf(full, 0), changes: [quorum, add] }),
    )
    expect(swapped.code).toBe('CHANGE_OUT_OF_ORDER')
    expect(swapped.details).toMatchObject({ version: 1, index: 0 })

    const forged = structuredClone(quorum)
    forged.proposal.change = { type: 'quorum', quorum: 2 }
    const e3 = errorOf(() =>
      followMembershipAnswer(genesis, { ...membershipAnswerOf(full, 0), changes: [add, forged] }),
    )
    expect(e3.code).toBe('INVALID_SIGNATURE')
    expect(e3.details).toMatchObject({ version: 2, index: 1 })
    expect(e3.message).toMatch(/membership change 2 .* signatures\.0: hospital-b's signature/)

    // A change dropped from the middle: the next one does not follow.
    const gap = errorOf(() =>
      followMembershipAnswer(genesis, { ...membershipAnswerOf(full, 0), changes: [quorum] }),
    )
    expect(gap.code).toBe('CHANGE_OUT_OF_ORDER')
    // The node names a newest version its changes do not reach.
    const short = errorOf(() =>
      followMembershipAnswer(genesis, { ...membershipAnswerOf(full, 0), changes: [add] }),
    )
    expect(short.code).toBe('CHAIN_BROKEN')
    expect(short.message).toMatch(
      /newest membership version is 2, but the changes it shows reach 1/,
    )
  })

  it('a chain that forks the one verified before is an equivocation, with both changes as evidence', () => {
    const fork = genesis.extend(rival)
    const e = errorOf(() => followMembershipAnswer(full, membershipAnswerOf(fork, 0), 'node-x'))
    expect(e.code).toBe('EQUIVOCATION')
    expect(e.details).toMatchObject({ version: 1, baseVersion: 0 })
    expect(e.details.signedBoth).toEqual(['hospital-a'])
    // Asked only after the held version, the fork shows as a chain that does not extend it.
    const after = errorOf(() => followMembershipAnswer(full, membershipAnswerOf(fork, 1)))
    expect(after.code).toBe('CHAIN_BROKEN')
    expect(after.message).toMatch(/names membership version 1 .* it does not extend your chain/)
    // Another network's chain, or a malformed answer.
    expect(
      errorOf(() =>
        followMembershipAnswer(full, {
          ...membershipAnswerOf(full, 0),
          networkId: 'ab'.repeat(32),
        }),
      ).code,
    ).toBe('CHAIN_BROKEN')
    expect(errorOf(() => followMembershipAnswer(full, { v: 1, changes: {} })).code).toBe(
      'MESSAGE_INVALID',
    )
  })

  it('verifies each checkpoint under the version it names; a version not reached is MEMBERSHIP_UNKNOWN', () => {
    const c2 = cosignedAt(full, 2)
    const c0 = cosignedAt(full, 0)
    expect(verifyCheckpoint(full, c2)).toMatchObject({ version: 2, memberCount: 4 })
    expect(verifyCheckpoint(full, c0).signers).toEqual(['hospital-a', 'hospital-b', 'hospital-c'])
    expect(errorOf(() => verifyCheckpoint(genesis, c2)).code).toBe('MEMBERSHIP_UNKNOWN')
    // One version's keys alone (the pre-chain way) refuse another version's checkpoint.
    expect(errorOf(() => verifyCheckpoint(genesis.current, c2)).code).toBe('MEMBERSHIP_UNKNOWN')

    // A query answer's checkpoint, the same way.
    const answer = {
      v: 1,
      node: 'x',
      filter: {},
      entries: [],
      heads: [],
      checkpoint: cosignedToJson(c2),
      held: {},
    }
    const check = { keys: genesis.current.keys, filter: {} }
    const withHistory = verifyQueryAnswer(answer, { ...check, history: full })
    expect(withHistory.failures).toEqual([])
    expect(withHistory.cosignedBy).toMatchObject({ count: 4, of: 4 })
    const unknown = verifyQueryAnswer(answer, { ...check, history: genesis })
    expect(unknown.failures[0]?.entryId).toBe('checkpoint')
    expect(unknown.failures[0]?.reason).toMatch(/past the newest this history holds \(0\)/)
  })

  it('heads past the checkpoint’s cut verify under its version’s key, or the next version’s after a rotation', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const { signTreeHead, ed25519RawPublicKey } = await import('../../../node/core/tree-head.ts')
    const { toHex } = await import('../../../node/core/hex.ts')
    const fresh = generateKeyPairSync('ed25519').privateKey
    const rotate = await signedChange(
      full.versions[2]!,
      {
        type: 'rotate-ed25519',
        name: 'hospital-b',
        ed25519PublicKey: toHex(ed25519RawPublicKey(fresh)),
        oldKey: 'lost',
      },
      ['hospital-a', 'hospital-c', 'hospital-d', 'hospital-b'],
      keys,
    )
    const h3 = full.extend(rotate)
    const root = new Uint8Array(32).fill(7)
    const headBy = (key: import('node:crypto').KeyObject) => {
      const h = signTreeHead(key, 'hospital-b', 3, root)
      return {
        origin: 'hospital-b',
        treeSize: 3,
        root: toHex(h.root),
        signature: toHex(h.signature),
        consistency: [],
      }
    }
    const answerWith = (head: unknown) => ({
      v: 1,
      node: 'x',
      filter: {},
      entries: [],
      heads: [head],
      checkpoint: cosignedToJson(cosignedAt(h3, 2)),
      held: {},
    })
    const check = { keys: h3.current.keys, filter: {} }
    const ok = (answer: unknown, history: MembershipHistory) => [
      ...verifyQueryAnswer(answer, { ...check, history }).failures,
    ]
    // The checkpoint is of version 2: hospital-b's key then, or (rotated in version 3) its new one.
    expect(ok(answerWith(headBy(keys.get('hospital-b')!.feedKey)), h3)).toEqual([])
    expect(ok(answerWith(headBy(fresh)), h3)).toEqual([])
    // A verifier that does not hold version 3 knows no such key; another key is never accepted.
    const stranger = generateKeyPairSync('ed25519').privateKey
    const { checkAnswerHeads } = await import('../../../node/core/trust/answer-heads.ts')
    const heads = checkAnswerHeads([headBy(fresh)], full.at(2)!.keys, () => undefined, [])
    expect(heads.get('hospital-b:3')?.problem).toMatch(/is not signed by hospital-b/)
    const other = checkAnswerHeads(
      [headBy(stranger)],
      full.at(2)!.keys,
      () => undefined,
      [],
      h3.at(3)!.keys.ed25519Keys,
    )
    expect(other.get('hospital-b:3')?.problem).toMatch(/is not signed by hospital-b/)
  })

  it('a bundle carries the changes up to the newest version its checkpoints name', () => {
    expect(changesUpTo(full, [{ version: 0 }])).toEqual([])
    expect(changesUpTo(full, [{ version: 1 }, { version: 0 }])).toHaveLength(1)
    expect(changesUpTo(full, [{ version: 2 }])).toHaveLength(2)
    // Followed change by change from the bundle, a refused one stops at the version before it.
    const forged = structuredClone(quorum)
    forged.signatures[0]!.signature = '00'.repeat(64)
    let h = genesis
    const e = errorOf(() => {
      for (const [i, c] of [add, forged].entries()) h = followChanges(h, i, [c], 'the bundle')
    })
    expect(e.code).toBe('INVALID_SIGNATURE')
    expect(e.message).toMatch(/^membership change 2 from the bundle/)
    expect(h.latest).toBe(1)
  })
})
