import { describe, expect, it } from 'vitest'
import { blsPublicKey, blsSign, generateBlsSecretKey } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointSigningMessage,
  cosignedToJson,
} from '../../node/core/checkpoint.ts'
import {
  consistencyFromOf,
  parseConsistencyFrom,
  verifyConsistencyAnswer,
} from '../../node/core/consistency-answer.ts'
import { toHex } from '../../node/core/hex.ts'
import { hashLeaf, MemoryTree } from '../../node/core/merkle/index.ts'

describe('consistency since a kept checkpoint (RFC 9162 2.1.4)', () => {
  const secrets = [generateBlsSecretKey(), generateBlsSecretKey(), generateBlsSecretKey()]
  const networkId = new Uint8Array(32).fill(1)
  const trust = {
    networkId,
    membership: { version: 0, hash: networkId },
    blsKeys: secrets.map(blsPublicKey),
  }
  const tree = new MemoryTree(
    Array.from({ length: 10 }, (_, i) => hashLeaf(new TextEncoder().encode(`entry ${i}`))),
  )
  const cosign = (timeMs: number, sizes: Record<string, number>) => {
    const checkpoint: Checkpoint = {
      networkId,
      membership: trust.membership,
      timeMs,
      feeds: Object.entries(sizes).map(([origin, treeSize]) => ({
        origin,
        treeSize,
        root: tree.root(treeSize),
        indexRoot: new Uint8Array(32),
      })),
    }
    const message = checkpointSigningMessage(checkpoint)
    return aggregateCosignatures(
      checkpoint,
      new Map(secrets.map((s, i) => [i, blsSign(s, message)])),
      secrets.length,
    )
  }
  const kept = cosign(1000, { 'hospital-a': 6, 'hospital-b': 3 })
  const latest = cosign(2000, { 'hospital-a': 10, 'hospital-b': 3 })
  const proofs = [
    {
      origin: 'hospital-a',
      fromSize: 6,
      toSize: 10,
      proof: tree.consistencyProof(6, 10).map(toHex),
    },
    { origin: 'hospital-b', fromSize: 3, toSize: 3, proof: [] },
  ]
  const answer = { v: 1, cosigned: cosignedToJson(latest), proofs }

  it('accepts a latest checkpoint that extends every kept feed', () => {
    expect(consistencyFromOf(kept)).toBe('hospital-a:6,hospital-b:3')
    expect(verifyConsistencyAnswer(kept, answer, trust).origins).toEqual([
      { origin: 'hospital-a', fromSize: 6, toSize: 10 },
      { origin: 'hospital-b', fromSize: 3, toSize: 3 },
    ])
  })

  it('refuses a wrong or missing proof, naming the origin', () => {
    const bad = [{ ...proofs[0]!, proof: [...proofs[0]!.proof].reverse() }, proofs[1]!]
    expect(() => verifyConsistencyAnswer(kept, { ...answer, proofs: bad }, trust)).toThrow(
      expect.objectContaining({
        code: 'INVALID_PROOF',
        details: expect.objectContaining({ origin: 'hospital-a' }),
      }),
    )
    expect(() => verifyConsistencyAnswer(kept, { ...answer, proofs: [] }, trust)).toThrow(
      /no usable consistency proof for hospital-a from 6 to 10/,
    )
  })

  it('refuses a dropped feed; an older checkpoint is UNAVAILABLE; a foreign one INVALID_SIGNATURE', () => {
    const dropped = cosign(3000, { 'hospital-a': 10 })
    expect(() =>
      verifyConsistencyAnswer(kept, { ...answer, cosigned: cosignedToJson(dropped) }, trust),
    ).toThrow(/^the history of hospital-b was rewritten: the latest checkpoint has no feed/)
    // An empty feed has no history: a latest checkpoint without it rewrites nothing.
    const keptEmpty = cosign(1000, { 'hospital-a': 6, 'hospital-c': 0 })
    expect(verifyConsistencyAnswer(keptEmpty, answer, trust).origins).toEqual([
      { origin: 'hospital-a', fromSize: 6, toSize: 10 },
    ])
    const older = cosign(500, { 'hospital-a': 4, 'hospital-b': 3 })
    expect(() =>
      verifyConsistencyAnswer(kept, { ...answer, cosigned: cosignedToJson(older) }, trust),
    ).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }))
    expect(() =>
      verifyConsistencyAnswer(kept, answer, { ...trust, networkId: new Uint8Array(32) }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_SIGNATURE' }))
  })

  it('parses `from` strictly, naming the field', () => {
    expect([...parseConsistencyFrom('hospital-a:0,hospital-b:12')]).toEqual([
      ['hospital-a', 0],
      ['hospital-b', 12],
    ])
    for (const bad of [
      '',
      'hospital-a',
      'hospital-a:-1',
      'hospital-a:01',
      'Hospital:1',
      'a:1,a:2',
      7,
    ])
      expect(() => parseConsistencyFrom(bad)).toThrow(
        expect.objectContaining({ code: 'ARGUMENT_INVALID', details: { field: 'from' } }),
      )
  })
})
