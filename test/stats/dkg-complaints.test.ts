import { describe, expect, it } from 'vitest'
import {
  G,
  mulSecret,
  scalarFromBytes,
  sharePublicKey,
  verifyStatsBundle,
} from '../../node/core/stats/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { NAMES, useStatsNetwork, waitFor } from './harness.ts'

const [A, B, C] = NAMES

/** The `stats` entry bodies of one feed, as `node` replicates it. */
async function statsBodies(node: EhrlogNode, origin: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = []
  for await (const { entry } of node.store.entries(origin, 1, node.store.size(origin))) {
    if (entry.kind === 'stats') out.push(entry.body as Record<string, unknown>)
  }
  return out
}

/**
 * Every node made the same key, every `dkg-key` entry lists the same qualified dealers (which
 * must include `kept` and exclude `out`), and each node's own share fits the key.
 */
async function expectOneKey(
  net: ReturnType<typeof useStatsNetwork>,
  kept: number[],
  out: number[] = [],
): Promise<number[]> {
  const qualified = (await statsBodies(net.node(A), A)).find((b) => b.type === 'dkg-key')!
    .qualified as number[]
  for (const d of kept) expect(qualified).toContain(d)
  for (const d of out) expect(qualified).not.toContain(d)
  expect(qualified.length).toBeGreaterThanOrEqual(2)
  const first = net.node(A).stats.key!.key
  for (const name of NAMES) {
    const mine = net.node(name).stats.key!
    expect(mine.key.commitments.map((c) => c.toHex())).toEqual(
      first.commitments.map((c) => c.toHex()),
    )
    // x_j·G = X_j: the member's secret share is its share of this key.
    expect(
      mulSecret(G, scalarFromBytes(mine.share)!).equals(sharePublicKey(first, mine.index)),
    ).toBe(true)
    for (const origin of NAMES) {
      const key = (await statsBodies(net.node(name), origin)).find((b) => b.type === 'dkg-key')
      expect(key).toMatchObject({ qualified, commitments: first.commitments.map((c) => c.toHex()) })
    }
  }
  return qualified
}

describe('DKG complaints and answers on three real nodes (faults injected through NodeOptions.stats)', () => {
  const net = useStatsNetwork()

  it('a dealer that boxes a bad share is complained of, answers in the clear and stays', async () => {
    await net.setUp({ faults: { [B]: { dkg: { badShareTo: C } } } })
    const cFeed = await statsBodies(net.node(A), C)
    expect(cFeed).toContainEqual({ type: 'dkg-complaint', generation: 1, dealer: 2, complainer: 3 })
    const answer = (await statsBodies(net.node(A), B)).find((b) => b.type === 'dkg-answer')
    expect(answer).toMatchObject({ dealer: 2, complainer: 3 })
    expect(answer!.share).toMatch(/^[0-9a-f]{64}$/)
    // Nobody complained of A, and B's answer is the share its commitments give C.
    expect((await statsBodies(net.node(A), B)).some((b) => b.type === 'dkg-complaint')).toBe(false)
    await expectOneKey(net, [1, 2])
    for (const n of NAMES) expect(net.incidents(n)).toEqual([])
  }, 180_000)

  it('a dealer that does not answer is disqualified; the key forms from the others and decrypts', async () => {
    await net.setUp({ faults: { [B]: { dkg: { badShareTo: C, noAnswer: true } } } })
    expect((await statsBodies(net.node(A), B)).some((b) => b.type === 'dkg-answer')).toBe(false)
    await expectOneKey(net, [1], [2])
    // B still holds a share of the key (from A and C): a 2-of-3 decryption works.
    const events = (seed: number) =>
      Array.from({ length: 3 }, (_, i) => makeEvent(seed * 100 + i, { resource: 'Observation' }))
    await net.ingestInOnePeriod({ [A]: events(1), [B]: events(2), [C]: events(3) })
    let period = ''
    await waitFor(
      'A to check every counters entry of one period',
      () => {
        const seen = net.node(A).stats.countersSeen()
        period =
          [...(seen.get(A)?.keys() ?? [])].find((p) =>
            NAMES.every((o) => seen.get(o)?.get(p)?.verdict === 'ok'),
          ) ?? ''
        return period !== ''
      },
      30_000,
    )
    await net.stop(C) // A and B decrypt: B's share comes from the qualified dealers only
    const result = await net.node(A).stats.request({ period })
    expect(result.sharesFrom).toEqual([A, B])
    const verified = verifyStatsBundle(result.bundle, {
      publicKey: net.node(A).stats.key!.key.commitments[0]!.toBytes(),
    })
    expect(verified.totals.reduce((a, t) => (a ?? 0) + (t ?? 0), 0)).toBeGreaterThanOrEqual(9)
  }, 180_000)
})
