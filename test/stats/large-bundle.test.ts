import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeStatsBundle, encodeStatsBundle } from '../../node/core/stats/index.ts'
import { LIMITS } from '../../node/net/index.ts'
import { fetchStatsBundle, STATS_BUNDLE_PROTOCOL } from '../../node/stats/bundle-fetch.ts'
import { MAX_INLINE_BUNDLE_BYTES } from '../../node/stats/index.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { NAMES, useStatsNetwork, waitFor } from './harness.ts'

const [A, B, C] = NAMES

/*
 * Bundles too large for a `stats` message (docs/protocol.md, "Statistics"): the combiner
 * announces name, size and SHA-256; each member fetches the bytes over
 * /ehrlog/stats-bundle/1.0.0 on real libp2p (127.0.0.1) and keeps them only if they verify.
 * The nodes' inline limit is lowered to 2 KB so that a real three-hospital bundle (some 30 KB)
 * is "large"; a synthetic 600 KB one (over the topic's 256 KiB, bytes that do not verify)
 * shows the transfer of what no message could carry, and its refusal.
 */
describe('statistics bundles over the message limit', () => {
  const net = useStatsNetwork()

  it('are announced, fetched by every member over libp2p, verified, kept; a doctored or garbage one is not kept', async () => {
    await net.setUp({ stats: { maxInlineBundleBytes: 2048 } })
    expect(MAX_INLINE_BUNDLE_BYTES * (4 / 3)).toBeLessThan(200_000)
    await net.ingestInOnePeriod({
      [A]: Array.from({ length: 4 }, (_, i) => makeEvent(100 + i)),
      [B]: Array.from({ length: 3 }, (_, i) => makeEvent(200 + i)),
      [C]: Array.from({ length: 2 }, (_, i) => makeEvent(300 + i)),
    })
    const periodsOf = (origin: string) => [
      ...(net.node(A).stats.countersSeen().get(origin)?.keys() ?? []),
    ]
    let period = ''
    await waitFor(
      'a period with the counters of every hospital checked at every node',
      () => {
        const common = periodsOf(A).filter(
          (p) => periodsOf(B).includes(p) && periodsOf(C).includes(p),
        )
        period =
          common.find((p) =>
            [A, B, C].every((n) =>
              NAMES.every((o) => net.node(n).stats.countersSeen().get(o)?.get(p)?.verdict === 'ok'),
            ),
          ) ?? ''
        return period !== ''
      },
      30_000,
    )
    const result = await net.node(A).stats.request({ period })
    expect(result.bundle.length).toBeGreaterThan(2048)
    const kept = (node: string, file: string) =>
      readFile(join(net.dir(node), 'stats', 'bundles', file)).catch(() => undefined)
    await waitFor(
      'B and C to fetch, verify and keep the announced bundle',
      async () =>
        (await kept(B, result.file)) !== undefined && (await kept(C, result.file)) !== undefined,
      20_000,
    )
    for (const n of [B, C]) {
      expect(Buffer.compare((await kept(n, result.file))!, Buffer.from(result.bundle))).toBe(0)
      expect(net.node(n).stats.bundlesSeen()).toContainEqual({
        from: A,
        file: result.file,
        kept: true,
      })
    }

    // A doctored bundle (one total changed) announced by A: fetched, refused, not kept.
    const doctored = decodeStatsBundle(result.bundle)
    const cell = doctored.totals.findIndex((t) => t !== undefined)
    doctored.totals[cell] = doctored.totals[cell]! + 1
    const doctoredFile = `${period.replaceAll(':', '-')}.doctored.stats`
    const doctoredBytes = encodeStatsBundle(doctored)
    await writeFile(join(net.dir(A), 'stats', 'bundles', doctoredFile), doctoredBytes)
    await net.node(A).stats.shareBundle(doctoredFile, doctoredBytes)

    // 600 KB of garbage: more than any control message carries (256 KiB).
    const garbage = new Uint8Array(randomBytes(600_000))
    expect(garbage.length).toBeGreaterThan(LIMITS.maxControlMessageBytes)
    const garbageFile = `${period.replaceAll(':', '-')}.garbage.stats`
    await writeFile(join(net.dir(A), 'stats', 'bundles', garbageFile), garbage)
    await net.node(A).stats.shareBundle(garbageFile, garbage)

    for (const n of [B, C]) {
      await waitFor(
        `${n} to fetch and refuse both`,
        () =>
          [doctoredFile, garbageFile].every((f) =>
            net
              .node(n)
              .stats.bundlesSeen()
              .some((s) => s.file === f && !s.kept),
          ),
        20_000,
      )
      const seen = net.node(n).stats.bundlesSeen()
      expect(seen.find((s) => s.file === doctoredFile)?.why).toMatch(
        /total-mismatch|not what the shares decrypt/,
      )
      expect(seen.find((s) => s.file === garbageFile)?.why).toMatch(/does not start with/)
      expect(await kept(n, doctoredFile)).toBeUndefined()
      expect(await kept(n, garbageFile)).toBeUndefined()
    }

    // The transport itself: the 600 KB arrive whole; a wrong digest or size is refused.
    const dial = (member: string, protocol: string, signal: AbortSignal) =>
      net.node(B).net.dialMember(member, protocol, signal)
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', garbage)).toString('hex')
    const fetched = await fetchStatsBundle(dial, net.node(B).net.networkId, A, {
      file: garbageFile,
      size: garbage.length,
      digest,
    })
    expect(Buffer.compare(Buffer.from(fetched), Buffer.from(garbage))).toBe(0)
    await expect(
      fetchStatsBundle(dial, net.node(B).net.networkId, A, {
        file: garbageFile,
        size: garbage.length,
        digest: '00'.repeat(32),
      }),
    ).rejects.toMatchObject({ code: 'MESSAGE_INVALID' })
    await expect(
      fetchStatsBundle(dial, net.node(B).net.networkId, A, {
        file: `${period.replaceAll(':', '-')}.missing.stats`,
        size: 10,
        digest,
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(STATS_BUNDLE_PROTOCOL).toBe('/ehrlog/stats-bundle/1.0.0')
  }, 180_000)
})
