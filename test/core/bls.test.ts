import { describe, expect, it } from 'vitest'
import {
  aggregateBlsSignatures,
  BLS_PUBLIC_KEY_LENGTH,
  BLS_SIGNATURE_LENGTH,
  blsProofOfPossession,
  blsPublicKey,
  blsSign,
  blsVerify,
  generateBlsSecretKey,
  verifyBlsAggregate,
  verifyBlsProofOfPossession,
} from '../../node/core/bls.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { fromHex } from '../../node/core/hex.ts'

const text = (s: string) => new TextEncoder().encode(s)
const hex = (s: string) => fromHex(s) as Uint8Array

describe('BLS sign and verify', () => {
  const sk = generateBlsSecretKey()
  const pk = blsPublicKey(sk)
  const message = text('checkpoint 42')

  it('has the min-pk sizes', () => {
    expect(pk.byteLength).toBe(BLS_PUBLIC_KEY_LENGTH)
    expect(blsSign(sk, message).byteLength).toBe(BLS_SIGNATURE_LENGTH)
  })

  it('round-trips', () => {
    expect(blsVerify(pk, message, blsSign(sk, message))).toBe(true)
  })

  it('rejects a different message, key or a flipped signature bit', () => {
    const signature = blsSign(sk, message)
    expect(blsVerify(pk, text('checkpoint 43'), signature)).toBe(false)
    expect(blsVerify(blsPublicKey(generateBlsSecretKey()), message, signature)).toBe(false)
    const flipped = signature.slice()
    flipped[50] = (flipped[50] ?? 0) ^ 1
    expect(blsVerify(pk, message, flipped)).toBe(false)
  })

  it('returns false (does not throw) for malformed keys and signatures', () => {
    const signature = blsSign(sk, message)
    expect(blsVerify(pk.subarray(1), message, signature)).toBe(false)
    expect(blsVerify(new Uint8Array(48).fill(0xff), message, signature)).toBe(false)
    expect(blsVerify(pk, message, signature.subarray(0, 95))).toBe(false)
    // The identity public key (compressed infinity: 0xc0 then zeros) must never verify.
    const identity = new Uint8Array(48)
    identity[0] = 0xc0
    const identitySignature = new Uint8Array(96)
    identitySignature[0] = 0xc0
    expect(blsVerify(identity, message, identitySignature)).toBe(false)
  })

  it('rejects secret keys out of range', () => {
    const zero = new Uint8Array(32)
    const tooBig = new Uint8Array(32).fill(0xff)
    for (const bad of [zero, tooBig, new Uint8Array(31).fill(1)]) {
      try {
        blsSign(bad, message)
        expect.unreachable()
      } catch (err) {
        expect(isEhrlogError(err, 'KEY_FILE_INVALID')).toBe(true)
      }
    }
  })

  it('does not accept a signature as a proof of possession or vice versa', () => {
    // Separate DSTs: a signature of the key bytes as a message is not a PoP.
    expect(verifyBlsProofOfPossession(pk, blsSign(sk, pk))).toBe(false)
    expect(blsVerify(pk, pk, blsProofOfPossession(sk))).toBe(false)
  })
})

describe('BLS proof of possession', () => {
  it('verifies for its own key and fails for another key', () => {
    const sk1 = generateBlsSecretKey()
    const sk2 = generateBlsSecretKey()
    const pop1 = blsProofOfPossession(sk1)
    expect(verifyBlsProofOfPossession(blsPublicKey(sk1), pop1)).toBe(true)
    expect(verifyBlsProofOfPossession(blsPublicKey(sk2), pop1)).toBe(false)
    expect(verifyBlsProofOfPossession(blsPublicKey(sk2), blsProofOfPossession(sk2))).toBe(true)
  })
})

describe('BLS aggregate (same message)', () => {
  const keys = [0, 1, 2, 3].map(() => generateBlsSecretKey())
  const publicKeys = keys.map(blsPublicKey)
  const message = text('checkpoint root 0xabc')
  const signatures = keys.map((sk) => blsSign(sk, message))
  const aggregate = aggregateBlsSignatures(signatures.slice(0, 3))
  const [pk0, pk1, pk2, pk3] = publicKeys as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]

  it('verifies an aggregate of 3 in any key order', () => {
    expect(aggregate.byteLength).toBe(BLS_SIGNATURE_LENGTH)
    expect(verifyBlsAggregate([pk0, pk1, pk2], message, aggregate)).toBe(true)
    expect(verifyBlsAggregate([pk2, pk0, pk1], message, aggregate)).toBe(true)
  })

  it('fails when a signer is swapped, missing or extra, or the message differs', () => {
    expect(verifyBlsAggregate([pk0, pk1, pk3], message, aggregate)).toBe(false)
    expect(verifyBlsAggregate([pk0, pk1], message, aggregate)).toBe(false)
    expect(verifyBlsAggregate([pk0, pk1, pk2, pk3], message, aggregate)).toBe(false)
    expect(verifyBlsAggregate([pk0, pk1, pk2], text('other'), aggregate)).toBe(false)
    expect(verifyBlsAggregate([], message, aggregate)).toBe(false)
  })

  it('fails when one part signed a different message', () => {
    const mixed = aggregateBlsSignatures([
      signatures[0] as Uint8Array,
      signatures[1] as Uint8Array,
      blsSign(keys[2] as Uint8Array, text('other')),
    ])
    expect(verifyBlsAggregate([pk0, pk1, pk2], message, mixed)).toBe(false)
  })

  it('refuses to aggregate nothing or garbage, naming the index', () => {
    expect(() => aggregateBlsSignatures([])).toThrow(/at least 1/)
    try {
      aggregateBlsSignatures([signatures[0] as Uint8Array, new Uint8Array(96).fill(7)])
      expect.unreachable()
    } catch (err) {
      expect(isEhrlogError(err, 'INVALID_SIGNATURE')).toBe(true)
      expect((err as { details: { index: number } }).details.index).toBe(1)
    }
  })
})

// Known-answer tests for this exact ciphersuite (BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_,
// the one Ethereum consensus uses) from the Ethereum BLS test suite, CC0:
// https://github.com/ethereum/bls12-381-tests (release v0.1.2), also shipped as
// consensus-spec-tests tests/general/phase0/bls/. Cases: sign/sign_case_c82df61aa3ee60fb,
// sign/sign_case_84d45c9c7cca6b92, fast_aggregate_verify/fast_aggregate_verify_valid_3d7576f3c0e3570a.
// The public keys are the suite's PRIVKEYS[0..2] mapped to G1 (as listed in that fast-aggregate case).
// The suite has no proof-of-possession vectors, so PoP is tested only against itself above.
describe('BLS published vectors (ethereum/bls12-381-tests v0.1.2)', () => {
  const sk = [
    hex('263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3'),
    hex('47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138'),
    hex('328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216'),
  ] as const
  const pk = [
    hex(
      'a491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a',
    ),
    hex(
      'b301803f8b5ac4a1133581fc676dfedc60d891dd5fa99028805e5ea5b08d3491af75d0707adab3b70c6a6a580217bf81',
    ),
    hex(
      'b53d21a4cfd562c469cc81514d4ce5a6b577d8403d32a394dc265dd190b47fa9f829fdd7963afdf972e5e77854051f6f',
    ),
  ] as const

  it('derives the published public keys', () => {
    sk.forEach((key, i) => {
      expect(blsPublicKey(key)).toEqual(pk[i])
    })
  })

  it('sign_case_c82df61aa3ee60fb: PRIVKEYS[0] signs 32 zero bytes', () => {
    const expected = hex(
      'b6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55',
    )
    expect(blsSign(sk[0], new Uint8Array(32))).toEqual(expected)
    expect(blsVerify(pk[0], new Uint8Array(32), expected)).toBe(true)
  })

  it('sign_case_84d45c9c7cca6b92: PRIVKEYS[2] signs 0xab * 32', () => {
    const expected = hex(
      'ae82747ddeefe4fd64cf9cedb9b04ae3e8a43420cd255e3c7cd06a8d88b7c7f8638543719981c5d16fa3527c468c25f0026704a6951bde891360c7e8d12ddee0559004ccdbe6046b55bae1b257ee97f7cdb955773d7cf29adf3ccbb9975e4eb9',
    )
    expect(blsSign(sk[2], new Uint8Array(32).fill(0xab))).toEqual(expected)
  })

  it('fast_aggregate_verify_valid_3d7576f3c0e3570a: three keys, message 0xab * 32', () => {
    const message = new Uint8Array(32).fill(0xab)
    const aggregate = hex(
      '9712c3edd73a209c742b8250759db12549b3eaf43b5ca61376d9f30e2747dbcf842d8b2ac0901d2a093713e20284a7670fcf6954e9ab93de991bb9b313e664785a075fc285806fa5224c82bde146561b446ccfc706a64b8579513cfc4ff1d930',
    )
    expect(verifyBlsAggregate([...pk], message, aggregate)).toBe(true)
    expect(aggregateBlsSignatures(sk.map((key) => blsSign(key, message)))).toEqual(aggregate)
    expect(verifyBlsAggregate([pk[0], pk[1]], message, aggregate)).toBe(false)
  })
})
