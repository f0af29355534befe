import { describe, expect, it } from 'vitest'
import { verifyCosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { verifyStatsBundle } from '../../node/core/stats/index.ts'
import { checkpointKeysOf } from '../../node/core/trust/index.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { NAMES, useStatsNetwork, waitFor } from './harness.ts'

const [A, B, C] = NAMES

function events(seed: number, n: number) {
  return Array.from({ length: n }, (_, i) => makeEvent(seed * 100 + i, { resource: 'Observation' }))
}

describe('re-keying on a membership change (three real in-process nodes, governed removal)', () => {
  const net = useStatsNetwork()

  it('a removed member leaves the next key generation; new periods use the new key, old periods still decrypt under the old', async () => {
    await net.setUp()
    const gen1 = net.node(A).stats.keyOf(1)!
    await net.ingestInOnePeriod({ [A]: events(1, 3), [B]: events(2, 3), [C]: events(3, 3) })
    const okFor = (node: string, origins: string[], generation: number) => {
      const seen = net.node(node).stats.countersSeen()
      return [...(seen.get(A)?.entries() ?? [])]
        .filter(([, s]) => s.generation === generation)
        .map(([p]) => p)
        .find((p) => origins.every((o) => seen.get(o)?.get(p)?.verdict === 'ok'))
    }
    let old: string | undefined
    await waitFor(
      'a period of all three checked under generation 1',
      () => {
        old = okFor(A, NAMES as unknown as string[], 1)
        return old !== undefined
      },
      30_000,
    )

    // Governance: A proposes removing C, B signs; the change applies at the next checkpoint cut.
    const proposed = await net.node(A).governance.propose('admin@hospital-a', {
      type: 'remove',
      name: C,
    })
    await waitFor(
      'B to hold the proposal',
      () => {
        try {
          net.node(B).governance.proposal(proposed.id)
          return true
        } catch {
          return false
        }
      },
      30_000,
    )
    await net.node(B).governance.sign('admin@hospital-b', proposed.id)
    await waitFor(
      'A and B to hold the change for the cut',
      () => [A, B].every((n) => net.node(n).membership.pending !== undefined),
      30_000,
    )
    // The cut: a round that applies the change (retried: under load a round can time out).
    for (let attempt = 0; ; attempt++) {
      try {
        await net.node(A).checkpoints.runRound()
        break
      } catch (err) {
        if (attempt === 2) throw err
      }
    }
    await waitFor(
      'A and B at version 1',
      () => [A, B].every((n) => net.node(n).membership.current.version === 1),
      30_000,
    )

    await waitFor(
      'A and B to make the generation 2 key',
      () => [A, B].every((n) => net.node(n).stats.keyOf(2) !== undefined),
      60_000,
    )
    const gen2 = net.node(A).stats.keyOf(2)!
    expect(gen2.members).toEqual([A, B])
    expect(gen2.key.n).toBe(2)
    expect(gen2.key.commitments[0]!.equals(gen1.key.commitments[0]!)).toBe(false)
    expect(gen2.seed).not.toEqual(gen1.seed)
    expect(net.node(B).stats.keyOf(2)!.key.commitments[0]!.equals(gen2.key.commitments[0]!)).toBe(
      true,
    )
    // The old key is kept for the old periods.
    expect(net.node(A).stats.keyOf(1)!.key.commitments[0]!.equals(gen1.key.commitments[0]!)).toBe(
      true,
    )

    // Periods that end after the new key started are counted under it, by A and B only.
    await net.ingestInOnePeriod({ [A]: events(4, 2), [B]: events(5, 4) })
    let fresh: string | undefined
    await waitFor(
      'a period of A and B checked under generation 2',
      () => {
        fresh = okFor(A, [A, B], 2)
        return fresh !== undefined
      },
      30_000,
    )
    const seenByA = net.node(A).stats.countersSeen()
    expect(seenByA.get(B)!.get(fresh!)!.generation).toBe(2)

    // Both decrypt: the new period under generation 2, then the old one under generation 1 (its
    // partition: the three; its anchors rest on a checkpoint from before C was removed, since
    // the newer ones no longer cut C's feed).
    const keysFor = (c: Parameters<typeof verifyCosignedCheckpoint>[0]) =>
      void verifyCosignedCheckpoint(
        c,
        checkpointKeysOf(net.node(A).membership.keysFor(c.checkpoint.membership)),
      )
    const after = await net.node(A).stats.request({ period: fresh! })
    expect(after.origins).toEqual([A, B])
    const v2 = verifyStatsBundle(after.bundle, {
      requireAnchors: true,
      requireKeyAnchors: true,
      checkCheckpoint: keysFor,
    })
    expect(v2.keyProvenance).toMatchObject({ generation: 2, attestedBy: [A, B], qualified: [1, 2] })
    expect(v2.publicKey).toEqual(gen2.key.commitments[0]!.toBytes())
    const before = await net.node(A).stats.request({ period: old! })
    expect(before.origins).toEqual([A, B, C])
    const v1 = verifyStatsBundle(before.bundle, {
      requireAnchors: true,
      requireKeyAnchors: true,
      checkCheckpoint: keysFor,
    })
    expect(v1.keyProvenance!.generation).toBe(1)
    expect(v1.publicKey).toEqual(gen1.key.commitments[0]!.toBytes())
    // A's 2 and B's 4 events of the new period are in its totals (A and B's counters only).
    expect(v2.totals.reduce<number>((sum, t) => sum + (t ?? 0), 0)).toBeGreaterThanOrEqual(6)
    expect(v1.totals.reduce<number>((sum, t) => sum + (t ?? 0), 0)).toBeGreaterThanOrEqual(9)
  }, 300_000)
})
