import { describe, expect, it } from 'vitest'
import { blsProofOfPossession, blsPublicKey, blsSign } from '../../../node/core/bls.ts'
import { canonicalJson } from '../../../node/core/canonical-json.ts'
import { isEhrlogError } from '../../../node/core/errors.ts'
import { toHex } from '../../../node/core/hex.ts'
import { TAGS } from '../../../node/core/layout.ts'
import { sha256 } from '../../../node/core/merkle/hash.ts'
import { ed25519PrivateKey, ed25519RawPublicKey } from '../../../node/core/tree-head.ts'
import {
  addSignature,
  parseSignedProposal,
  proposalMessage,
  type SignedProposal,
  verifyChain,
} from '../../../node/core/trust/index.ts'
import { hexFields, readFormatExamples } from '../format-doc.ts'

// docs/format.md, "Membership changes": the worked example, read from the document.
const examples = readFormatExamples()
const utf8 = new TextEncoder()

function jsonOf(name: string): string {
  const found = examples.get(name)
  if (!found) throw new Error(`docs/format.md has no example ${name}`)
  expect(found.kind).toBe('json')
  expect(found.lines).toHaveLength(1)
  return found.lines[0]!
}

function fieldsOf(name: string): (label: string) => string {
  const found = examples.get(name)
  if (!found) throw new Error(`docs/format.md has no example ${name}`)
  const fields = hexFields(found)
  return (label) => {
    const value = fields.get(label)
    if (!value) throw new Error(`example ${name} has no hex for ${JSON.stringify(label)}`)
    return value
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : 'not-ehrlog'
  }
}

// RFC 8032 section 7.1, TEST 1, 2 and 3: the seeds of the example network's Ed25519 keys.
const SEEDS = [
  '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
]
const keys = SEEDS.map((seed) => ed25519PrivateKey(Buffer.from(seed, 'hex')))

describe('docs/format.md membership changes, recomputed with the code', () => {
  const network = JSON.parse(jsonOf('network')) as {
    members: Array<{ name: string; ed25519PublicKey: string; blsPublicKey: string }>
  }
  const first = JSON.parse(jsonOf('membership-change-1')) as SignedProposal
  const second = JSON.parse(jsonOf('membership-change-2')) as SignedProposal

  it("the RFC 8032 seeds are the example members' keys", () => {
    keys.forEach((key, i) => {
      expect(toHex(ed25519RawPublicKey(key))).toBe(network.members[i]!.ed25519PublicKey)
    })
  })

  it('the message, signatures and version hash of the first change, and the JSON as written', () => {
    const field = fieldsOf('membership-change-1-bytes')
    const message = proposalMessage(parseSignedProposal(first).proposal)
    expect(message.byteLength).toBe(172)
    expect(toHex(message)).toBe(field('message'))
    // The parts, as the layout table says.
    const networkId = fieldsOf('network-id')('network id')
    const body = canonicalJson({ change: first.proposal.change, proposer: first.proposal.proposer })
    expect(toHex(message)).toBe(
      toHex(utf8.encode(TAGS.membershipChange)) +
        '00' +
        networkId +
        '0000000000000000' +
        networkId +
        toHex(utf8.encode(body)),
    )
    let resigned: SignedProposal = { proposal: first.proposal, signatures: [] }
    resigned = addSignature(resigned, 'hospital-a', keys[0]!)
    resigned = addSignature(resigned, 'hospital-b', keys[1]!)
    expect(resigned.signatures.map((s) => s.signature)).toEqual([
      field('signature 0'),
      field('signature 1'),
    ])
    expect(JSON.stringify(resigned)).toBe(jsonOf('membership-change-1'))
    const tagged = new Uint8Array([...utf8.encode(TAGS.membershipVersion), 0, ...message])
    expect(toHex(sha256(tagged))).toBe(field('version 1'))
  })

  it('the chain of both changes verifies to the versions shown; the variants the text names are refused', () => {
    const chain = verifyChain(network, [first, second])
    expect(chain.versions.map((v) => v.hash)).toEqual([
      fieldsOf('network-id')('network id'),
      fieldsOf('membership-change-1-bytes')('version 1'),
      fieldsOf('membership-change-2-bytes')('version 2'),
    ])
    expect(second.proposal.baseHash).toBe(chain.versions[1]!.hash)
    expect(chain.current.members.map((m) => m.name)).toEqual(['hospital-a', 'hospital-b'])
    expect(chain.current.quorum).toBe(2)
    expect(codeOf(() => verifyChain(network, [second, first]))).toBe('CHANGE_OUT_OF_ORDER')
    expect(codeOf(() => verifyChain(network, [first, first]))).toBe('CHANGE_REPLAYED')
    const dropped = { ...first, signatures: first.signatures.slice(0, 1) }
    expect(codeOf(() => verifyChain(network, [dropped]))).toBe('QUORUM_NOT_MET')
    const byC = addSignature({ proposal: first.proposal, signatures: [] }, 'hospital-a', keys[0]!)
    const other = addSignature(byC, 'hospital-c', keys[2]!)
    expect(verifyChain(network, [other]).current.hash).toBe(chain.versions[1]!.hash)
  })

  it('the BLS rotation with the old key held: new key and proof from secret key 4, the old key (2) signs the message', () => {
    const third = JSON.parse(jsonOf('membership-change-3')) as SignedProposal
    const field = fieldsOf('membership-change-3-bytes')
    const secret = (i: number) => {
      const key = new Uint8Array(32)
      key[31] = i
      return key
    }
    expect(toHex(blsPublicKey(secret(4)))).toBe(field('new key'))
    expect(toHex(blsProofOfPossession(secret(4)))).toBe(field('new pop'))
    const message = proposalMessage(parseSignedProposal(third).proposal)
    expect(message.byteLength).toBe(524)
    expect(toHex(blsSign(secret(2), message))).toBe(field('old signature'))
    expect(third.oldKeySignature).toBe(field('old signature'))
    expect(third.proposal.change).toMatchObject({ blsPublicKey: field('new key'), oldKey: 'held' })
    const chain = verifyChain(network, [first, second, third])
    expect(chain.current.hash).toBe(field('version 3'))
    expect(chain.versions[2]!.members[1]!.blsPublicKey).toBe(network.members[1]!.blsPublicKey)
    expect(chain.current.members[1]!.blsPublicKey).toBe(field('new key'))
    // Without the old key's signature, or with secret key 3's instead, it is refused.
    const { oldKeySignature: _, ...without } = third
    expect(codeOf(() => verifyChain(network, [first, second, without]))).toBe('INVALID_SIGNATURE')
    const wrong = { ...third, oldKeySignature: toHex(blsSign(secret(3), message)) }
    expect(codeOf(() => verifyChain(network, [first, second, wrong]))).toBe('INVALID_SIGNATURE')
  })
})
