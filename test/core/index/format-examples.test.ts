import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../../node/core/hex.ts'
import {
  chainNext,
  decodeCompletenessProof,
  EMPTY_HASH,
  encodeCompletenessProof,
  encodeSmtProof,
  indexKey,
  indexSalt,
  indexValueHash,
  PatientIndex,
  smtLeafHash,
  verifyCompleteness,
  vrfInput,
  vrfKeyPair,
  vrfProve,
  vrfVerify,
} from '../../../node/core/index/index.ts'
import { chainNextInPlace } from '../../../node/core/index/layout.ts'
import { hexFields, readFormatExamples } from '../format-doc.ts'

// docs/format.md, "The per-patient index": its worked examples, recomputed with the code.
const examples = readFormatExamples()

function fieldsOf(name: string): (label: string) => string {
  const example = examples.get(name)
  if (!example) throw new Error(`docs/format.md has no example ${name}`)
  const fields = hexFields(example)
  return (label) => {
    const value = fields.get(label)
    if (!value) throw new Error(`example ${name} has no hex for ${JSON.stringify(label)}`)
    return value
  }
}

const FEED = ['9', '10', undefined, '9', '11']

describe('docs/format.md: the per-patient index examples', () => {
  const vrf = fieldsOf('index-vrf')
  const sk = fromHex(vrf('VRF secret key'))!
  const beta = fromHex(vrf('beta'))!

  it('index-vrf: key, alpha, pi and beta of patient 9', () => {
    expect(toHex(vrfKeyPair(sk).publicKey)).toBe(vrf('VRF public key'))
    expect(toHex(vrfInput('9'))).toBe(vrf('alpha'))
    expect(toHex(vrfProve(sk, vrfInput('9')))).toBe(vrf('pi'))
    expect(
      toHex(vrfVerify(fromHex(vrf('VRF public key'))!, vrfInput('9'), fromHex(vrf('pi'))!)),
    ).toBe(vrf('beta'))
  })

  it("index-leaf: patient 9's key, salt, chain and hashes at hospital-a", () => {
    const leaf = fieldsOf('index-leaf')
    const key = indexKey(beta, 'hospital-a')
    const salt = indexSalt(beta, 'hospital-a')
    const chain1 = chainNext(EMPTY_HASH, 1)
    const chain2 = chainNext(chain1, 4)
    const value = indexValueHash(salt, 2, chain2)
    expect(toHex(key)).toBe(leaf('key'))
    expect(toHex(salt)).toBe(leaf('salt'))
    expect(toHex(chain1)).toBe(leaf('chain 1'))
    expect(toHex(chain2)).toBe(leaf('chain 2'))
    expect(toHex(value)).toBe(leaf('value hash'))
    expect(toHex(smtLeafHash(key, value))).toBe(leaf('leaf hash'))
    // The in-place step a rebuild uses gives the same chain, also past 2^32.
    const chains = new Uint8Array(96)
    chainNextInPlace(chains, 32, 1)
    chainNextInPlace(chains, 32, 4)
    expect(toHex(chains.subarray(32, 64))).toBe(leaf('chain 2'))
    expect(toHex(chains.subarray(0, 32))).toBe(toHex(EMPTY_HASH))
    chainNextInPlace(chains, 64, 2 ** 40 + 7)
    expect(toHex(chains.subarray(64))).toBe(toHex(chainNext(EMPTY_HASH, 2 ** 40 + 7)))
  })

  it('index-proofs: the root, two index proofs, and a completeness proof that verifies', () => {
    const proofs = fieldsOf('index-proofs')
    const index = new PatientIndex(sk)
    FEED.forEach((p, i) => {
      index.applyEntry('hospital-a', i + 1, p)
    })
    expect(toHex(index.indexRoot('hospital-a'))).toBe(proofs('root'))
    const of9 = index.prove('9', ['hospital-a'])
    expect(toHex(encodeSmtProof(of9.origins[0]!.proof))).toBe(proofs('proof of 9'))
    const of404 = index.prove('404', ['hospital-a'])
    expect(toHex(encodeSmtProof(of404.origins[0]!.proof))).toBe(proofs('proof of 404'))
    expect(toHex(encodeCompletenessProof(of9))).toBe(proofs('completeness of 9'))
    const result = verifyCompleteness({
      vrfPublicKey: vrfKeyPair(sk).publicKey,
      patientId: '9',
      cut: new Map([['hospital-a', { treeSize: 5, indexRoot: fromHex(proofs('root'))! }]]),
      proof: decodeCompletenessProof(fromHex(proofs('completeness of 9'))!),
      entries: [
        { origin: 'hospital-a', seq: 1, patientId: '9' },
        { origin: 'hospital-a', seq: 4, patientId: '9' },
      ],
    })
    expect(result.origins).toEqual([{ origin: 'hospital-a', treeSize: 5, count: 2 }])
  })
})
