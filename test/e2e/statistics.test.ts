import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useLocalNetworks } from './harness.ts'
import { appendEvents } from './node-api.ts'

const NAMES = ['hospital-a', 'hospital-b', 'hospital-c']

function events(seed: number, n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) =>
    makeEvent(seed * 100 + i, { action: i % 2 ? 'update' : 'read', resource: 'Observation' }),
  )
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('private statistics between node processes (ehrlog node start, default timings)', () => {
  const createNetwork = useLocalNetworks()

  it('key generation, counters over two periods, a 2-of-3 decryption and `ehrlog stats verify`', async () => {
    const net = await createNetwork({ nodes: 3, fileIndex: 9 })
    for (const m of net.members) {
      await writeFile(
        join(m.dir, 'stats.json'),
        JSON.stringify({ period: 'second', minCellCount: 1 }),
      )
    }
    await Promise.all(net.members.map((m) => net.start(m.name)))
    const [a, b, c] = NAMES.map(net.member)
    const keyOf = async (m: typeof a) => {
      const res = await fetch(`${m!.http}/api/v1/stats/key`)
      return res.ok ? ((await res.json()) as { publicKey: string }).publicKey : undefined
    }
    let key: string | undefined
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(1000)) {
      const keys = await Promise.all([a, b, c].map(keyOf))
      if (keys.every((k) => k !== undefined && k === keys[0])) {
        key = keys[0]
        break
      }
    }
    expect(key, 'the three processes made one key').toMatch(/^[0-9a-f]{64}$/)

    // Two batches, each just after a second boundary: one period each (the unit is a second).
    const batches: Array<{ before: number; after: number; sent: AuditEvent[] }> = []
    for (const seed of [1, 2]) {
      await sleep(1000 - (Date.now() % 1000) + 30)
      const before = Date.now()
      const sent: AuditEvent[] = []
      await Promise.all(
        [a, b, c].map((m, i) => {
          const list = events(seed * 10 + i, 2 + i + seed)
          sent.push(...list)
          return appendEvents(m!, list)
        }),
      )
      batches.push({ before, after: Date.now(), sent })
      await sleep(1200)
    }

    const token = JSON.parse(await readFile(join(a!.dir, 'config.json'), 'utf8')).apiToken
    let checked = 0
    for (const batch of batches) {
      // The batch's period: the second it started in (or, if it crossed a boundary, the next).
      const candidates = new Set(
        [batch.before, batch.after].map((t) => new Date(t).toISOString().slice(0, 19)),
      )
      let done = false
      for (
        const deadline = Date.now() + 60_000;
        !done && Date.now() < deadline;
        await sleep(1000)
      ) {
        for (const period of candidates) {
          const file = join(a!.dir, `${period.replaceAll(':', '-')}.stats`)
          const r = await runCli([
            'stats',
            'request',
            '--node',
            a!.http,
            '--token',
            token,
            '--period',
            period,
            '--out',
            file,
            '--json',
          ])
          if (r.code !== 0) continue
          const v = await runCli([
            'stats',
            'verify',
            file,
            '--period',
            period,
            '--key',
            key!,
            '--network',
            join(a!.dir, 'network.json'),
            '--json',
          ])
          expect(v.code, v.err).toBe(0)
          const totals = JSON.parse(v.out).totals as Record<string, number | null>
          // Each batch fell in one period: its events are the period's events.
          expect(totals['events.read.clinical']).toBe(
            batch.sent.filter((e) => e.action === 'read').length,
          )
          expect(totals['events.update.clinical']).toBe(
            batch.sent.filter((e) => e.action === 'update').length,
          )
          expect(JSON.parse(r.out).sharesFrom).toHaveLength(2)
          done = true
          checked++
          break
        }
      }
    }
    expect(checked).toBe(2)
  }, 240_000)
})
