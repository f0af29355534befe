import { generateKeyPairSync } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { blsProofOfPossession, blsPublicKey, generateBlsSecretKey } from '../../../node/core/bls.ts'
import { isEhrlogError } from '../../../node/core/errors.ts'
import { toHex } from '../../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../../node/core/tree-head.ts'
import {
  applyProposal,
  checkEquivocation,
  followChain,
  genesisVersion,
  type MembershipChange,
  type MembershipVersion,
  type SignedProposal,
  verifyChain,
} from '../../../node/core/trust/index.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from './membership-chain-fixtures.ts'

/*
 * Property tests of the membership chain against a plain reference: a list of members (name,
 * keys, addresses) and a quorum, changed the obvious way. Random sequences of valid changes,
 * signed by random quorums, must verify to the reference's state; any single mutation of a
 * valid chain (a dropped signature, two changes swapped, a change replayed, a wrong base, a
 * flipped signature byte, a non-member's signature) must be refused with its code.
 */

interface Reference {
  members: Array<{
    name: string
    ed25519PublicKey: string
    blsPublicKey: string
    peerId: string
    addresses: string[]
  }>
  quorum: number | undefined
}

const majority = (n: number) => Math.floor(n / 2) + 1
const quorumOf = (r: Reference) => r.quorum ?? majority(r.members.length)

/** One random step: which change, and numbers that pick its member, value and signers. */
const intent = fc.record({
  kind: fc.integer({ min: 0, max: 6 }),
  pick: fc.nat(),
  value: fc.nat(),
  signers: fc.nat(),
  extra: fc.nat({ max: 2 }),
  held: fc.boolean(),
})
type Intent = typeof intent extends fc.Arbitrary<infer T> ? T : never

/**
 * The genesis members' proofs of possession are Membership's to check (and its tests'): here,
 * as a node does with its proven-bls-keys file, they count as verified, which saves three
 * pairings per verifyChain. Proofs of keys added or rotated in are still verified every time.
 */
const PROVEN = { proven: () => true }

const POOL = 6
let pool: TestMember[]
let network: { members: unknown[]; vrfPublicKey: string }

beforeAll(async () => {
  pool = await Promise.all(
    Array.from({ length: POOL }, (_, i) =>
      makeMember(`hospital-${String.fromCharCode(97 + i)}`, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  network = {
    members: pool.slice(0, 3).map((m) => m.identity),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  }
})

/**
 * Builds a chain of valid changes from `intents`, following the reference; each intent that
 * cannot apply (nothing left to add, a remove that would break the quorum) is skipped.
 */
async function buildChain(intents: Intent[]): Promise<{
  changes: SignedProposal[]
  reference: Reference
  signerCounts: number[]
  quorums: number[]
}> {
  const keys = new Map(pool.map((m) => [m.identity.name, { ...m }]))
  const reference: Reference = {
    members: pool.slice(0, 3).map((m) => ({ ...m.identity, addresses: [...m.identity.addresses] })),
    quorum: undefined,
  }
  let version: MembershipVersion = genesisVersion(network, 'network.json', PROVEN).version
  const changes: SignedProposal[] = []
  const signerCounts: number[] = []
  const quorums: number[] = []
  for (const step of intents) {
    const n = reference.members.length
    const target = reference.members[step.pick % n]!
    let change: MembershipChange | undefined
    switch (step.kind) {
      case 0: {
        const next = pool.find((m) => !reference.members.some((r) => r.name === m.identity.name))
        const q = quorumOf(reference)
        if (next && q >= majority(n + 1)) {
          // A member removed earlier comes back with its first identity and keys.
          keys.set(next.identity.name, { ...next })
          change = { type: 'add', member: next.identity }
        }
        break
      }
      case 1:
        if (n > 1 && (reference.quorum === undefined || reference.quorum <= n - 1))
          change = { type: 'remove', name: target.name }
        break
      case 2: {
        const fresh = { feedKey: generateKeyPairSync('ed25519').privateKey }
        const k = keys.get(target.name)!
        change = {
          type: 'rotate-ed25519',
          name: target.name,
          ed25519PublicKey: toHex(ed25519RawPublicKey(fresh.feedKey)),
          oldKey: step.held ? 'held' : 'lost',
        }
        version = await record(
          version,
          change,
          step,
          reference,
          keys,
          changes,
          signerCounts,
          quorums,
        )
        keys.set(target.name, { ...k, feedKey: fresh.feedKey })
        target.ed25519PublicKey = change.ed25519PublicKey
        continue
      }
      case 3: {
        const fresh = { bls: generateBlsSecretKey() }
        const k = keys.get(target.name)!
        change = {
          type: 'rotate-bls',
          name: target.name,
          blsPublicKey: toHex(blsPublicKey(fresh.bls)),
          blsProofOfPossession: toHex(blsProofOfPossession(fresh.bls)),
          oldKey: step.held ? 'held' : 'lost',
        }
        version = await record(
          version,
          change,
          step,
          reference,
          keys,
          changes,
          signerCounts,
          quorums,
        )
        keys.set(target.name, { ...k, bls: fresh.bls })
        target.blsPublicKey = change.blsPublicKey
        continue
      }
      case 4: {
        const fresh = { libp2p: await generateKeyPair('Ed25519') }
        const k = keys.get(target.name)!
        change = {
          type: 'rotate-libp2p',
          name: target.name,
          peerId: peerIdFromPrivateKey(fresh.libp2p).toString(),
          oldKey: step.held ? 'held' : 'lost',
        }
        version = await record(
          version,
          change,
          step,
          reference,
          keys,
          changes,
          signerCounts,
          quorums,
        )
        keys.set(target.name, { ...k, libp2p: fresh.libp2p })
        target.peerId = change.peerId
        continue
      }
      case 5:
        change = {
          type: 'addresses',
          name: target.name,
          addresses: [
            `/ip4/10.1.${step.value % 250}.${step.pick % 250}/tcp/${7400 + (step.value % 100)}`,
          ],
        }
        break
      case 6: {
        const least = majority(n)
        change = { type: 'quorum', quorum: least + (step.value % (n - least + 1)) }
        break
      }
    }
    if (!change) continue
    version = await record(version, change, step, reference, keys, changes, signerCounts, quorums)
    if (change.type === 'add')
      reference.members.push({ ...change.member, addresses: [...change.member.addresses] })
    if (change.type === 'remove')
      reference.members = reference.members.filter((m) => m.name !== change.name)
    if (change.type === 'addresses') target.addresses = change.addresses
    if (change.type === 'quorum') reference.quorum = change.quorum
  }
  return { changes, reference, signerCounts, quorums }
}

/** Signs `change` by a random quorum (plus `extra` more) of the reference's members and applies it. */
async function record(
  version: MembershipVersion,
  change: MembershipChange,
  step: Intent,
  reference: Reference,
  keys: Map<string, TestMember>,
  changes: SignedProposal[],
  signerCounts: number[],
  quorums: number[],
): Promise<MembershipVersion> {
  const names = reference.members.map((m) => m.name)
  const start = step.signers % names.length
  const rotated = [...names.slice(start), ...names.slice(0, start)]
  const count = Math.min(names.length, quorumOf(reference) + step.extra)
  const signed = await signedChange(version, change, rotated.slice(0, count), keys)
  changes.push(signed)
  signerCounts.push(count)
  quorums.push(quorumOf(reference))
  return applyProposal(version, signed)
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : `not-ehrlog: ${String(err)}`
  }
}

const chains = fc.array(intent, { minLength: 1, maxLength: 6 })
const RUNS = { numRuns: 25 }
// BLS proofs of possession and old-key signatures cost pairings: minutes on a loaded machine.
const TIMEOUT = 180_000

describe('membership chain properties', () => {
  it(
    'random valid changes signed by random quorums verify to the reference state',
    async () => {
      await fc.assert(
        fc.asyncProperty(chains, async (intents) => {
          const { changes, reference } = await buildChain(intents)
          const { current, versions } = verifyChain(network, changes, PROVEN)
          expect(versions).toHaveLength(changes.length + 1)
          expect(new Set(versions.map((v) => v.hash)).size).toBe(versions.length)
          expect(
            current.members.map(({ name, ed25519PublicKey, blsPublicKey, peerId, addresses }) => ({
              name,
              ed25519PublicKey,
              blsPublicKey,
              peerId,
              addresses,
            })),
          ).toEqual(
            reference.members.map(
              ({ name, ed25519PublicKey, blsPublicKey, peerId, addresses }) => ({
                name,
                ed25519PublicKey,
                blsPublicKey,
                peerId,
                addresses,
              }),
            ),
          )
          expect(current.quorum).toBe(reference.quorum)
        }),
        RUNS,
      )
    },
    TIMEOUT,
  )

  it(
    'any single mutation of a valid chain is refused with its code',
    async () => {
      const mutation = fc.record({
        which: fc.integer({ min: 0, max: 5 }),
        at: fc.nat(),
        seed: fc.nat(),
      })
      await fc.assert(
        fc.asyncProperty(chains, mutation, async (intents, m) => {
          const { changes, quorums } = await buildChain(intents)
          fc.pre(changes.length > 0)
          const i = m.at % changes.length
          const mutated = structuredClone(changes)
          let expected: string
          switch (m.which) {
            case 0: {
              // Drop signatures down to one fewer than the quorum.
              fc.pre(quorums[i]! >= 1)
              const keep = quorums[i]! - 1
              mutated[i]!.signatures = mutated[i]!.signatures.slice(0, keep)
              expected = 'QUORUM_NOT_MET'
              break
            }
            case 1: {
              fc.pre(changes.length >= 2)
              const j = i === changes.length - 1 ? i - 1 : i
              ;[mutated[j], mutated[j + 1]] = [mutated[j + 1]!, mutated[j]!]
              expected = 'CHANGE_OUT_OF_ORDER'
              break
            }
            case 2:
              mutated.splice(i + 1, 0, structuredClone(changes[i]!))
              expected = 'CHANGE_REPLAYED'
              break
            case 3:
              mutated[i]!.proposal.baseHash = toHex(
                Uint8Array.from({ length: 32 }, (_, k) => (m.seed + k) % 256),
              )
              expected = 'CHAIN_BROKEN'
              break
            case 4: {
              const s = mutated[i]!.signatures[m.seed % mutated[i]!.signatures.length]!
              const at = (m.seed % 64) * 2
              const byte = (Number.parseInt(s.signature.slice(at, at + 2), 16) ^ 1)
                .toString(16)
                .padStart(2, '0')
              s.signature = s.signature.slice(0, at) + byte + s.signature.slice(at + 2)
              expected = 'INVALID_SIGNATURE'
              break
            }
            default: {
              // A member that is not (or no longer) one of this version's signs too.
              const members = new Set(
                (i === 0
                  ? genesisVersion(network, 'network.json', PROVEN).version
                  : verifyChain(network, changes.slice(0, i), PROVEN).current
                ).members.map((x) => x.name),
              )
              const outsider = pool.find((p) => !members.has(p.identity.name))
              fc.pre(outsider !== undefined)
              mutated[i]!.signatures.push({
                signer: outsider!.identity.name,
                signature: '00'.repeat(64),
              })
              expected = 'SIGNER_UNKNOWN'
            }
          }
          let caught: unknown
          try {
            verifyChain(network, mutated, PROVEN)
          } catch (err) {
            caught = err
          }
          expect(isEhrlogError(caught), String(caught)).toBe(true)
          const err = caught as { code: string; details: { index: number } }
          expect(err.code).toBe(expected)
          // The chain up to the mutation still verifies: the refusal names the mutated change.
          const index =
            m.which === 2 ? i + 1 : m.which === 1 ? (i === changes.length - 1 ? i - 1 : i) : i
          expect(err.details.index).toBe(index)
          expect(
            codeOf(() => verifyChain(network, mutated.slice(0, index), PROVEN)),
          ).toBeUndefined()
        }),
        RUNS,
      )
    },
    TIMEOUT,
  )

  it(
    'proposal files in any order, with signatures split across copies, follow to the same version',
    async () => {
      await fc.assert(
        fc.asyncProperty(chains, fc.nat(), async (intents, seed) => {
          const { changes } = await buildChain(intents)
          const expected = verifyChain(network, changes, PROVEN).current
          // Each signature in a copy of its own (the old-key signature rides on the first).
          const files = changes.flatMap((signed, i) =>
            signed.signatures.map((sig, j) => ({
              source: `${i}-${j}.json`,
              value: {
                proposal: signed.proposal,
                signatures: [sig],
                ...(j === 0 && signed.oldKeySignature
                  ? { oldKeySignature: signed.oldKeySignature }
                  : {}),
              },
            })),
          )
          const shuffled = fc.sample(fc.shuffledSubarray(files, { minLength: files.length }), {
            numRuns: 1,
            seed,
          })[0]!
          const followed = followChain(network, shuffled, PROVEN)
          expect(followed.current).toEqual(expected)
          expect(followed.pending).toEqual([])
          expect(followed.refused).toEqual([])
        }),
        RUNS,
      )
    },
    TIMEOUT,
  )

  it(
    'two different changes each signed by a quorum on one version always name a member that signed both',
    async () => {
      const keys = new Map(pool.map((m) => [m.identity.name, m]))
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: POOL }),
          fc.nat(),
          fc.nat(),
          fc.integer({ min: 0, max: 2 }),
          async (n, s1, s2, extra) => {
            const genesis = {
              members: pool.slice(0, n).map((m) => m.identity),
              vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
            }
            const v0 = genesisVersion(genesis, 'network.json', PROVEN).version
            const names = v0.members.map((m) => m.name)
            const q = Math.min(n, majority(n) + extra)
            const pick = (seed: number) => {
              const start = seed % n
              return [...names.slice(start), ...names.slice(0, start)].slice(0, q)
            }
            const a = await signedChange(
              v0,
              { type: 'addresses', name: names[0]!, addresses: ['/ip4/10.9.0.1/tcp/1'] },
              pick(s1),
              keys,
            )
            const b = await signedChange(
              v0,
              { type: 'addresses', name: names[0]!, addresses: ['/ip4/10.9.0.2/tcp/2'] },
              pick(s2),
              keys,
            )
            let caught: unknown
            try {
              checkEquivocation(v0, a, b)
            } catch (err) {
              caught = err
            }
            expect(isEhrlogError(caught, 'EQUIVOCATION')).toBe(true)
            const both = pick(s1)
              .filter((x) => pick(s2).includes(x))
              .sort()
            expect(both.length).toBeGreaterThan(0)
            expect((caught as { details: { signedBoth: string[] } }).details.signedBoth).toEqual(
              both,
            )
          },
        ),
        RUNS,
      )
    },
    TIMEOUT,
  )
})
