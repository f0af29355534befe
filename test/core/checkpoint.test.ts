import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { blsPublicKey, blsSign, generateBlsSecretKey } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointId,
  checkpointSigningMessage,
  cosignedFromJson,
  cosignedToJson,
  signerIndexes,
  signersBitmap,
  signersBitmapLength,
  verifyCosignedCheckpoint,
} from '../../node/core/checkpoint.ts'
import { isEhrlogError } from '../../node/core/errors.ts'

const N = 5
const secrets = Array.from({ length: N }, () => generateBlsSecretKey())
const keys = secrets.map(blsPublicKey)
const networkId = new Uint8Array(randomBytes(32))

const checkpoint: Checkpoint = {
  networkId: networkId,
  membership: { version: 0, hash: networkId },
  timeMs: Date.UTC(2026, 10, 24, 12),
  feeds: ['hospital-a', 'hospital-b', 'hospital-c'].map((origin, i) => ({
    origin,
    treeSize: 10 * (i + 1),
    root: new Uint8Array(32).fill(i + 1),
    indexRoot: new Uint8Array(32).fill(16 + i),
  })),
}

function cosign(cp: Checkpoint, signerIndexes: number[]) {
  const message = checkpointSigningMessage(cp)
  return aggregateCosignatures(
    cp,
    new Map(signerIndexes.map((i) => [i, blsSign(secrets[i]!, message)])),
    N,
  )
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : 'not-ehrlog'
  }
}

describe('cosigned checkpoints', () => {
  it('a quorum of cosignatures aggregates into one that verifies in one step', () => {
    const cosigned = cosign(checkpoint, [0, 2, 4])
    expect(cosigned.signature).toHaveLength(96)
    expect(
      verifyCosignedCheckpoint(cosigned, {
        networkId: networkId,
        membership: { version: 0, hash: networkId },
        blsKeys: keys,
      }),
    ).toEqual([0, 2, 4])
    expect(
      verifyCosignedCheckpoint(cosign(checkpoint, [0, 1, 2, 3, 4]), {
        networkId: networkId,
        membership: { version: 0, hash: networkId },
        blsKeys: keys,
      }),
    ).toHaveLength(5)
  })

  it('rejects a missing cosignature (below quorum), a forged one, a non-member and another network', () => {
    expect(
      codeOf(() =>
        verifyCosignedCheckpoint(cosign(checkpoint, [1, 3]), {
          networkId: networkId,
          membership: { version: 0, hash: networkId },
          blsKeys: keys,
        }),
      ),
    ).toBe('INVALID_SIGNATURE')
    // a signer bit set whose signature is not in the aggregate
    const claimsMore = { ...cosign(checkpoint, [0, 1, 2]), signers: Uint8Array.of(0b1111) }
    expect(
      codeOf(() =>
        verifyCosignedCheckpoint(claimsMore, {
          networkId: networkId,
          membership: { version: 0, hash: networkId },
          blsKeys: keys,
        }),
      ),
    ).toBe('INVALID_SIGNATURE')
    // a forger's own key in place of member 1
    const forger = generateBlsSecretKey()
    const message = checkpointSigningMessage(checkpoint)
    const forged = aggregateCosignatures(
      checkpoint,
      new Map([
        [0, blsSign(secrets[0]!, message)],
        [1, blsSign(forger, message)],
        [2, blsSign(secrets[2]!, message)],
      ]),
      N,
    )
    expect(
      codeOf(() =>
        verifyCosignedCheckpoint(forged, {
          networkId: networkId,
          membership: { version: 0, hash: networkId },
          blsKeys: keys,
        }),
      ),
    ).toBe('INVALID_SIGNATURE')
    // a signer beyond the membership (N = 5: bit 5 is the sixth member)
    const outsider = { ...cosign(checkpoint, [0, 1, 2]), signers: Uint8Array.of(0b100111) }
    expect(() =>
      verifyCosignedCheckpoint(outsider, {
        networkId: networkId,
        membership: { version: 0, hash: networkId },
        blsKeys: keys,
      }),
    ).toThrow(/names no member/)
    expect(() =>
      verifyCosignedCheckpoint(cosign(checkpoint, [0, 1, 2]), {
        networkId: new Uint8Array(32),
        membership: { version: 0, hash: new Uint8Array(32) },
        blsKeys: keys,
      }),
    ).toThrow(/not this one/)
  })

  it('one checkpoint has one encoding: a bitmap of another length or with bits past the members is INVALID_PROOF', () => {
    const cosigned = cosign(checkpoint, [0, 1, 2])
    expect(signersBitmapLength(N)).toBe(1)
    expect(cosigned.signers).toEqual(Uint8Array.of(0b111))
    expect(signerIndexes(cosigned.signers, N)).toEqual([0, 1, 2])
    const respelled = [
      Uint8Array.of(0b111, 0), // a trailing zero byte: same signers, another encoding
      Uint8Array.of(0b111, 0, 0),
      new Uint8Array(0), // too short
      Uint8Array.of(0b111 | (1 << 5)), // member 5 of 0..4
      Uint8Array.of(0b111 | (1 << 7)),
    ]
    for (const signers of respelled) {
      expect(
        codeOf(() =>
          verifyCosignedCheckpoint(
            { ...cosigned, signers },
            { networkId: networkId, membership: { version: 0, hash: networkId }, blsKeys: keys },
          ),
        ),
      ).toBe('INVALID_PROOF')
    }
    // 9 members: two bytes, and a zero second byte is the one encoding when member 8 did not sign
    expect(signersBitmap([0, 3], 9)).toEqual(Uint8Array.of(0b1001, 0))
    expect(signerIndexes(Uint8Array.of(0b1001, 0), 9)).toEqual([0, 3])
    expect(signerIndexes(Uint8Array.of(0, 1), 9)).toEqual([8])
    expect(codeOf(() => signerIndexes(Uint8Array.of(0, 2), 9))).toBe('INVALID_PROOF')
    expect(codeOf(() => signerIndexes(Uint8Array.of(0b1001), 9))).toBe('INVALID_PROOF')
  })

  it('every bitmap signerIndexes accepts is the one signersBitmap writes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.uint8Array({ minLength: 0, maxLength: 7 }),
        (memberCount, bitmap) => {
          let indexes: number[]
          try {
            indexes = signerIndexes(bitmap, memberCount)
          } catch (err) {
            expect(isEhrlogError(err, 'INVALID_PROOF')).toBe(true)
            return
          }
          expect(signersBitmap(indexes, memberCount)).toEqual(bitmap)
        },
      ),
      { numRuns: 3000 },
    )
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 40 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }))),
          ),
        ([memberCount, signers]) => {
          const sorted = [...signers].sort((a, b) => a - b)
          expect(signerIndexes(signersBitmap(signers, memberCount), memberCount)).toEqual(sorted)
        },
      ),
    )
  })

  it('any change to the checkpoint after signing breaks the aggregate', () => {
    const cosigned = cosign(checkpoint, [0, 1, 2])
    const changes: Array<(cp: Checkpoint) => Checkpoint> = [
      (cp) => ({ ...cp, timeMs: cp.timeMs + 1 }),
      (cp) => ({
        ...cp,
        feeds: cp.feeds.map((f, i) => (i === 1 ? { ...f, treeSize: f.treeSize - 1 } : f)),
      }),
      (cp) => ({
        ...cp,
        feeds: cp.feeds.map((f, i) => (i === 2 ? { ...f, root: new Uint8Array(32) } : f)),
      }),
      (cp) => ({ ...cp, feeds: cp.feeds.slice(0, 2) }),
    ]
    for (const change of changes) {
      const altered = { ...cosigned, checkpoint: change(cosigned.checkpoint) }
      expect(checkpointId(altered.checkpoint)).not.toBe(checkpointId(checkpoint))
      expect(
        codeOf(() =>
          verifyCosignedCheckpoint(altered, {
            networkId: networkId,
            membership: { version: 0, hash: networkId },
            blsKeys: keys,
          }),
        ),
      ).toBe('INVALID_SIGNATURE')
    }
  })

  it('round-trips through JSON and refuses malformed JSON with MESSAGE_INVALID', () => {
    const cosigned = cosign(checkpoint, [0, 1, 2])
    const back = cosignedFromJson(JSON.parse(JSON.stringify(cosignedToJson(cosigned))))
    expect(
      verifyCosignedCheckpoint(back, {
        networkId: networkId,
        membership: { version: 0, hash: networkId },
        blsKeys: keys,
      }),
    ).toEqual([0, 1, 2])
    const json = cosignedToJson(cosigned)
    const bads: unknown[] = [
      null,
      { ...json, signature: 'zz' },
      { ...json, checkpoint: { ...json.checkpoint, feeds: [...json.checkpoint.feeds].reverse() } },
      { ...json, checkpoint: { ...json.checkpoint, timeMs: -1 } },
      {
        ...json,
        checkpoint: {
          ...json.checkpoint,
          feeds: [{ origin: 'Bad Name', treeSize: 1, root: '00'.repeat(32) }],
        },
      },
    ]
    for (const bad of bads) expect(codeOf(() => cosignedFromJson(bad))).toBe('MESSAGE_INVALID')
  })
})
