import { describe, expect, it } from 'vitest'
import {
  blsProofOfPossession,
  blsPublicKey,
  generateBlsSecretKey,
  verifyBlsProofOfPossession,
  verifyBlsProofsOfPossession,
} from '../../node/core/bls.ts'

/*
 * The batch check of proofs of possession (network.json is read with it: one final
 * exponentiation for all members): it accepts exactly what the one-by-one check accepts.
 */
describe('verifyBlsProofsOfPossession', () => {
  const secrets = Array.from({ length: 5 }, () => generateBlsSecretKey())
  const keys = secrets.map((s) => blsPublicKey(s))
  const proofs = secrets.map((s) => blsProofOfPossession(s))

  it('accepts valid proofs, as the one-by-one check does', () => {
    expect(verifyBlsProofsOfPossession(keys, proofs)).toBe(true)
    expect(keys.every((k, i) => verifyBlsProofOfPossession(k, proofs[i]!))).toBe(true)
  })

  it('refuses swapped proofs, keys listed in another order, a proof for another key, and bad input', () => {
    const swapped = [proofs[1]!, proofs[0]!, ...proofs.slice(2)]
    expect(verifyBlsProofsOfPossession(keys, swapped)).toBe(false)
    const other = [...proofs]
    other[3] = blsProofOfPossession(generateBlsSecretKey())
    expect(verifyBlsProofsOfPossession(keys, other)).toBe(false)
    // Keys in another order than their proofs: the unweighted sums would still match.
    const shifted = [proofs[0]!, proofs[1]!, ...proofs.slice(2)]
    expect(verifyBlsProofsOfPossession([keys[1]!, keys[0]!, ...keys.slice(2)], shifted)).toBe(false)
    expect(verifyBlsProofsOfPossession([], [])).toBe(false)
    expect(verifyBlsProofsOfPossession(keys, proofs.slice(1))).toBe(false)
    expect(verifyBlsProofsOfPossession(keys, [new Uint8Array(96), ...proofs.slice(1)])).toBe(false)
  })
})
