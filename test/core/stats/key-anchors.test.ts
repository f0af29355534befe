import { describe, expect, it } from 'vitest'
import type { CosignedCheckpoint } from '../../../node/core/checkpoint.ts'
import { makeEntry } from '../../../node/core/entry.ts'
import { EhrlogError } from '../../../node/core/errors.ts'
import { hashChildren } from '../../../node/core/merkle/hash.ts'
import {
  bytesHex,
  combineDealings,
  combineShares,
  type DkgParams,
  deal,
  decodeStatsBundle,
  encodeStatsAnchor,
  encodeStatsBundle,
  keyProvenanceOf,
  verifyKeyAnchors,
  verifyStatsBundle,
} from '../../../node/core/stats/index.ts'
import { makeBundle } from './network.ts'

// Key anchors (key-anchor.ts): each origin's feed holds its dealing (seq 1) and its dkg-key
// entry (seq 2) under one checkpoint (cosignatures are the caller's to check, not made here).
const NETWORK_ID = new Uint8Array(32).fill(0xab)
const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']
const params: DkgParams = {
  n: 3,
  k: 2,
  context: new TextEncoder().encode(`${bytesHex(NETWORK_ID)}/1`),
}
const dealers = [1, 2, 3].map((i) => deal(params, i))
const key = combineDealings(
  params,
  dealers.map((d) => d.dealing),
)
const secretShares = new Map(
  [1, 2, 3].map((j) => [j, combineShares(dealers.map((d) => d.shares.get(j)!))]),
)
const recorded = '2026-11-03T10:00:00.000Z'

function feedOf(origin: string, i: number, keyBody?: Record<string, unknown>) {
  const d = dealers[i]!.dealing
  const dealing = makeEntry(
    origin,
    1,
    undefined,
    'stats',
    {
      type: 'dkg-dealing',
      generation: 1,
      n: 3,
      k: 2,
      dealer: d.dealer,
      commitments: d.commitments.map(bytesHex),
      proof: bytesHex(d.proof),
    },
    recorded,
  )
  const keyEntry = makeEntry(
    origin,
    2,
    dealing.hash,
    'stats',
    keyBody ?? {
      type: 'dkg-key',
      generation: 1,
      n: 3,
      k: 2,
      qualified: [1, 2, 3],
      commitments: key.commitments.map((c) => bytesHex(c.toBytes())),
    },
    recorded,
  )
  return { dealing, keyEntry, root: hashChildren(dealing.hash, keyEntry.hash) }
}

function anchorsFor(
  feeds: ReturnType<typeof feedOf>[],
  networkId = NETWORK_ID,
): { dealings: Uint8Array[]; keys: Uint8Array[] } {
  const cosigned: CosignedCheckpoint = {
    checkpoint: {
      networkId,
      membership: { version: 0, hash: networkId },
      timeMs: Date.parse(recorded),
      feeds: feeds.map((f, i) => ({
        origin: ORIGINS[i]!,
        treeSize: 2,
        root: f.root,
        indexRoot: new Uint8Array(32),
      })),
    },
    signers: Uint8Array.of(0x07),
    signature: new Uint8Array(96),
  }
  return {
    dealings: feeds.map((f) =>
      encodeStatsAnchor({
        seq: 1,
        entryBytes: f.dealing.bytes,
        proof: [f.keyEntry.hash],
        cosigned,
      }),
    ),
    keys: feeds.map((f) =>
      encodeStatsAnchor({
        seq: 2,
        entryBytes: f.keyEntry.bytes,
        proof: [f.dealing.hash],
        cosigned,
      }),
    ),
  }
}

function reasonOf(f: () => unknown): string {
  try {
    f()
  } catch (err) {
    if (err instanceof EhrlogError) return `${err.details.reason}: ${err.message}`
    throw err
  }
  return 'passed'
}

describe('key anchors: the key derived from anchored dkg-key and dealing entries', () => {
  const good = anchorsFor(ORIGINS.map((o, i) => feedOf(o, i)))

  it('k dkg-key entries and the qualified dealings give the key, the attesters and the generation', () => {
    const p = verifyKeyAnchors(key, [...good.keys.slice(0, 2), ...good.dealings])
    expect(p).toMatchObject({
      generation: 1,
      attestedBy: ORIGINS.slice(0, 2),
      qualified: [1, 2, 3],
    })
    expect(p.checkpoints).toHaveLength(1)
    // In a bundle: the trailer round-trips and the verifier reports the provenance.
    const bundle = makeBundle({ params, key, secretShares }, ORIGINS, '2026-11', [1, 2])
    bundle.keyAnchors = [...good.keys, ...good.dealings]
    const bytes = encodeStatsBundle(bundle)
    expect(decodeStatsBundle(bytes).keyAnchors).toHaveLength(6)
    const v = verifyStatsBundle(bytes, { requireKeyAnchors: true })
    expect(v.keyProvenance?.attestedBy).toEqual(ORIGINS)
    expect(v.checkpoints).toHaveLength(1)
    // Without them: refused when required, and a truncated trailer is malformed.
    delete bundle.keyAnchors
    expect(
      reasonOf(() => verifyStatsBundle(encodeStatsBundle(bundle), { requireKeyAnchors: true })),
    ).toMatch(/^key-unanchored/)
    expect(reasonOf(() => decodeStatsBundle(bytes.subarray(0, bytes.length - 1)))).toMatch(
      /^malformed: .*key anchors end inside anchor 5/,
    )
  })

  it('refuses too few attesters, a missing or foreign dealing, another key, a broken proof, another generation', () => {
    expect(reasonOf(() => verifyKeyAnchors(key, [good.keys[0]!, ...good.dealings]))).toMatch(
      /^key-anchor-invalid: .*1 members' dkg-key entries anchored; the key needs 2 of 3/,
    )
    expect(
      reasonOf(() => verifyKeyAnchors(key, [...good.keys, ...good.dealings.slice(1)])),
    ).toMatch(/dealings are of dealers 2, 3, the qualified ones are 1, 2, 3/)
    expect(
      reasonOf(() =>
        verifyKeyAnchors(key, [
          ...good.keys,
          good.dealings[0]!,
          good.dealings[0]!,
          good.dealings[2]!,
        ]),
      ),
    ).toMatch(/dealer 1 \(hospital-a\) is anchored twice/)
    // A bundle under another key than the entries state.
    const other = combineDealings(params, [deal(params, 1).dealing, deal(params, 2).dealing])
    expect(reasonOf(() => verifyKeyAnchors(other, [...good.keys, ...good.dealings]))).toMatch(
      /states another key than the bundle's/,
    )
    // The same entries under another network's checkpoint: the proofs of knowledge fail.
    const foreign = anchorsFor(
      ORIGINS.map((o, i) => feedOf(o, i)),
      new Uint8Array(32).fill(0xcd),
    )
    expect(reasonOf(() => verifyKeyAnchors(key, [...foreign.keys, ...foreign.dealings]))).toMatch(
      /a dealing does not verify/,
    )
    // A dkg-key entry whose qualified set leaves out dealer 3 while its dealing sums in.
    const lying = anchorsFor(
      ORIGINS.map((o, i) =>
        feedOf(o, i, {
          type: 'dkg-key',
          generation: 1,
          n: 3,
          k: 2,
          qualified: [1, 2],
          commitments: key.commitments.map((c) => bytesHex(c.toBytes())),
        }),
      ),
    )
    expect(
      reasonOf(() => verifyKeyAnchors(key, [...lying.keys, ...lying.dealings.slice(0, 2)])),
    ).toMatch(/qualified dealings do not sum to the bundle's key/)
    // A changed byte in an anchored entry: its inclusion proof fails.
    const broken = good.keys[1]!.slice()
    broken[20] = broken[20]! ^ 1
    expect(
      reasonOf(() => verifyKeyAnchors(key, [good.keys[0]!, broken, ...good.dealings])),
    ).toMatch(/^anchor-invalid: .*key anchor 1/)
    // Counters under generation 2 with a generation-1 key.
    expect(
      reasonOf(() =>
        keyProvenanceOf(
          { key, keyAnchors: [...good.keys, ...good.dealings] },
          new Map([['hospital-b', 2]]),
        ),
      ),
    ).toMatch(/hospital-b's counters are under key generation 2, the anchored key is generation 1/)
  })
})
