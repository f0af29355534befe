import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { NAMES, useStatsNetwork, waitFor } from './harness.ts'

const [A, B, C] = NAMES

function events(seed: number, n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent(seed * 100 + i, { resource: 'Observation' }))
}

describe('misbehaving members (real in-process nodes, faults injected through NodeOptions.stats)', () => {
  const net = useStatsNetwork()

  it('a member that under-reports is named by the others, and its period is not decrypted', async () => {
    await net.setUp({ faults: { [C]: { underReport: true } } })
    await net.ingestInOnePeriod({ [A]: events(1, 3), [B]: events(2, 3), [C]: events(3, 4) })
    await waitFor(
      'A and B to report C',
      () =>
        [A, B].every((n) =>
          net
            .incidents(n)
            .some(
              (i) =>
                i.kind === 'diverged' &&
                i.origin === C &&
                /under- or over-reported/.test(i.summary),
            ),
        ),
      30_000,
    )
    const incident = net.incidents(A).find((i) => i.origin === C)!
    expect(incident.entryIds).toHaveLength(1)
    expect(incident.summary).toMatch(/events\.read\.clinical/)
    const period = [...net.node(A).stats.countersSeen().get(C)!.entries()].find(
      ([, seen]) => seen.verdict !== 'ok' && seen.verdict !== undefined,
    )![0]
    // Nobody reports the honest members; the members refuse to decrypt the period.
    for (const n of NAMES)
      expect(net.incidents(n).filter((i) => i.kind === 'diverged' && i.origin !== C)).toEqual([])
    const token = JSON.parse(await readFile(join(net.dir(A), 'config.json'), 'utf8')).apiToken
    const asked = await runCli([
      'stats',
      'request',
      '--node',
      net.node(A).httpUrl,
      '--token',
      token,
      '--period',
      period,
      '--out',
      join(net.dir(A), 'x.stats'),
    ])
    expect(asked.code).not.toBe(0)
    expect(asked.err).toMatch(/FORBIDDEN.*hospital-c's counters .* are not what its feed gives/)
  }, 120_000)

  it('a forged decryption share is refused, named and alerted; the request then lacks a share', async () => {
    await net.setUp({ faults: { [B]: { forgeShare: true } } })
    await net.ingestInOnePeriod({ [A]: events(1, 3), [B]: events(2, 3), [C]: events(3, 4) })
    await waitFor(
      'A to check all three counters entries of one period',
      () => {
        const seen = net.node(A).stats.countersSeen()
        const periods = [...(seen.get(A)?.keys() ?? [])]
        return periods.some((p) => NAMES.every((o) => seen.get(o)?.get(p)?.verdict === 'ok'))
      },
      30_000,
    )
    const seen = net.node(A).stats.countersSeen()
    const period = [...seen.get(A)!.keys()].find((p) =>
      NAMES.every((o) => seen.get(o)?.get(p)?.verdict === 'ok'),
    )!
    await net.stop(C) // only A's own share and B's forged one can come
    const token = JSON.parse(await readFile(join(net.dir(A), 'config.json'), 'utf8')).apiToken
    const asked = await runCli([
      'stats',
      'request',
      '--node',
      net.node(A).httpUrl,
      '--token',
      token,
      '--period',
      period,
      '--out',
      join(net.dir(A), 'x.stats'),
    ])
    expect(asked.code).not.toBe(0)
    expect(asked.err).toMatch(/UNAVAILABLE: 1 good decryption shares of 2/)
    expect(asked.err).toMatch(/refused: hospital-b \(share-forged\)/)
    expect(asked.err).toMatch(/no answer from hospital-c/)
    expect(net.incidents(A).some((i) => i.origin === B && /does not verify/.test(i.summary))).toBe(
      true,
    )
  }, 120_000)
})

describe('an origin that skips a period it owes (real in-process nodes)', () => {
  const net = useStatsNetwork()

  it('is reported by the others as diverged, naming the origin and the period, after the grace delay', async () => {
    await net.setUp({ faults: { [C]: { skipPeriod: true } }, stats: { missingGraceMs: 4000 } })
    await net.ingestInOnePeriod({ [A]: events(1, 2), [B]: events(2, 2), [C]: events(3, 2) })
    await net.ingestInOnePeriod({ [A]: events(4, 2), [B]: events(5, 2), [C]: events(6, 2) })
    await waitFor(
      'A and B to report C for a skipped period',
      () =>
        [A, B].every((n) =>
          net.incidents(n).some((i) => i.origin === C && /skipped/.test(i.summary)),
        ),
      60_000,
    )
    const incident = net.incidents(A).find((i) => i.origin === C && /skipped/.test(i.summary))!
    expect(incident.kind).toBe('diverged')
    const period = incident.key!.replace('stats-missing:', '')
    expect(incident.summary).toContain(period)
    // C closes its later period, but never this one.
    const seen = () => net.node(A).stats.countersSeen().get(C) ?? new Map()
    await waitFor(
      'C to close a later period',
      () => [...seen().keys()].some((p) => p > period),
      30_000,
    )
    expect(seen().has(period)).toBe(false)
    // The honest members are not reported.
    for (const n of NAMES) expect(net.incidents(n).filter((i) => i.origin !== C)).toEqual([])
  }, 180_000)
})
