import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AlertBody,
  AlertService,
  type AlertServiceOptions,
  type Incident,
} from '../../node/alerts/index.ts'
import { smtpConfigSchema } from '../../node/identity/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from './smtp-harness.ts'

const tempDir = useTempDirs()
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** What a restore-shaped fork looks like from a checkpoint round: one divergence per size. */
function fork(
  origin: string,
  treeSize: number,
  kind: 'diverged' | 'equivocation' = 'diverged',
): Incident {
  return {
    kind,
    key: `${origin}:${treeSize}:${'ab'.repeat(32)}`,
    reportingNode: 'hospital-b',
    origin,
    entryIds: [],
    detectedAt: '2026-01-05T10:00:00.000Z',
    summary: `hospital-a holds root abab… for ${origin} at size ${treeSize}; hospital-b holds cdcd…`,
    evidence: { origin, treeSize, theirRoot: 'ab'.repeat(32), ourRoot: 'cd'.repeat(32) },
  }
}

async function setup(nowMs: { value: number }, extra: Partial<AlertServiceOptions> = {}) {
  const server: TestSmtpServer = await startSmtpServer()
  cleanups.push(() => server.close())
  const dir = await tempDir()
  const recorded: AlertBody[] = []
  const service = new AlertService({
    node: 'hospital-b',
    admins: ['admin@b.example'],
    smtp: smtpConfigSchema.parse({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      requireTLS: false,
      from: 'ehrlog@b.example',
    }),
    dir,
    logger: silentLogger(),
    record: async (body) => {
      recorded.push(body)
    },
    now: () => new Date(nowMs.value),
    ...extra,
  })
  await service.start()
  cleanups.push(() => service.stop())
  return { server, dir, recorded, service }
}

describe('alert storms: one incident, one email (real SMTP server)', () => {
  it('120 divergences of one fork at growing tree sizes send one email and record one entry', async () => {
    const now = { value: Date.parse('2026-01-05T10:00:00Z') }
    const { server, dir, recorded, service } = await setup(now)
    const results: Array<{ id: string; isNew: boolean; foldedInto?: string }> = []
    for (let size = 40; size < 160; size++) {
      results.push(await service.report(fork('hospital-c', size)))
      now.value += 250 // 120 reports in 30 s, as the restore produced
    }
    expect(results.filter((r) => r.isNew)).toHaveLength(1)
    expect(server.received).toHaveLength(1)
    expect(recorded).toHaveLength(1)
    const mail = parseMail(server.received[0]!.raw)
    expect(mail.subject).toMatch(/^\[Replica Divergence\] replicas of hospital-c disagree/)
    // 7bit plain text, as docs/alerts.md says: ASCII (the summary's ellipsis spelled out) and
    // no line over 76 characters, so no quoted-printable soft breaks in the middle of words.
    const raw = server.received[0]!.raw.toString('utf8')
    expect(raw).not.toMatch(/quoted-printable/i)
    expect(raw).toMatch(/Content-Type: text\/plain[^\r]*\r\nContent-Transfer-Encoding: 7bit/)
    expect(mail.text).toContain('holds root abab... for hospital-c')
    // The first email names where the histories part.
    expect(mail.text).toContain('The histories part at or before seq 40 of hospital-c.')
    expect(recorded[0]!.summary).toContain('at or before seq 40')
    // Later evidence is kept, attached to the first incident by name.
    const folded = await readdir(join(dir, 'alerts', 'folded'))
    expect(folded).toHaveLength(119)
    for (const name of folded) expect(name.startsWith(`${results[0]!.id}.`)).toBe(true)
    expect(results.slice(1).every((r) => r.foldedInto === results[0]!.id)).toBe(true)

    // Another origin is another incident; an equivocation naming its seq says it exactly.
    const other = await service.report({
      ...fork('hospital-d', 7, 'equivocation'),
      seqFrom: 5,
      seqTo: 5,
      entryIds: ['hospital-d:5'],
    })
    expect(other.isNew).toBe(true)
    expect(server.received).toHaveLength(2)
    expect(parseMail(server.received[1]!.raw).text).toContain(
      'The histories part at seq 5 of hospital-d.',
    )

    // An hour without a new report of it ends the episode: the next one is emailed again.
    now.value += 3600_000
    expect((await service.report(fork('hospital-c', 500))).isNew).toBe(true)
    expect(server.received).toHaveLength(3)
    expect(recorded).toHaveLength(3)
  })

  it('a fork whose parting is found names the exact seq; one not found in time says "at or before"', async () => {
    const now = { value: Date.parse('2026-01-05T10:00:00Z') }
    const asked: Incident[] = []
    const { server, recorded, service } = await setup(now, {
      partingWaitMs: 300,
      parting: async (incident, signal) => {
        asked.push(incident)
        if (incident.origin === 'hospital-c') return { seq: 23, evidence: { seq: 23, by: 'test' } }
        // hospital-d: the search outlasts the wait (it is told to give up by its signal).
        await new Promise((resolve) => signal.addEventListener('abort', resolve))
        return undefined
      },
    })
    for (let size = 40; size < 45; size++) await service.report(fork('hospital-c', size))
    expect(asked).toHaveLength(1) // only the first incident of the episode is looked into
    const mail = parseMail(server.received[0]!.raw)
    expect(mail.subject).toMatch(/disagree, seen by hospital-b \(seq 23\)$/)
    expect(mail.text).toContain('The histories part at seq 23 of hospital-c.')
    expect(recorded[0]).toMatchObject({ seqFrom: 23, seqTo: 23 })
    const evidence = JSON.parse(
      mail.attachments.find((a) => a.filename === 'evidence.json')!.content.toString('utf8'),
    ).evidence
    expect(evidence).toMatchObject({ treeSize: 40, parting: { seq: 23, by: 'test' } })

    const started = Date.now()
    await service.report(fork('hospital-d', 12))
    expect(Date.now() - started).toBeLessThan(5000)
    expect(parseMail(server.received[1]!.raw).text).toContain(
      'The histories part at or before seq 12 of hospital-d.',
    )
  })

  it('the "repaired" follow-up of an episode\'s first incident is emailed, once; other follow-ups fold', async () => {
    const now = { value: Date.parse('2026-01-05T10:00:00Z') }
    const { server, recorded, service } = await setup(now)
    const damage = (key: string, ids: string[], repaired = false): Incident => ({
      kind: 'modified',
      key,
      reportingNode: 'hospital-b',
      origin: 'hospital-a',
      entryIds: ids,
      detectedAt: '2026-01-05T10:00:00.000Z',
      summary: `entries of hospital-a were modified (${key})`,
      evidence: {},
      ...(repaired ? { repaired: { from: 'hospital-c', entryIds: ids } } : {}),
    })
    expect((await service.report(damage('first', ['hospital-a:12']))).isNew).toBe(true)
    now.value += 1000
    // Another damage of the same kind and origin: folded into the episode.
    expect((await service.report(damage('second', ['hospital-a:3']))).foldedInto).toBeDefined()
    now.value += 1000
    // The follow-up of the second (folded) incident folds too.
    expect((await service.report(damage('second:repaired', ['hospital-a:3'], true))).isNew).toBe(
      false,
    )
    expect(server.received).toHaveLength(1)
    // The first incident's follow-up is its end: emailed and recorded.
    const ids = ['hospital-a:10', 'hospital-a:11', 'hospital-a:12']
    expect((await service.report(damage('first:repaired', ids, true))).isNew).toBe(true)
    expect(server.received).toHaveLength(2)
    expect(recorded).toHaveLength(2)
    expect(recorded[1]).toMatchObject({ entryIds: ids, repairedFrom: 'hospital-c' })
    expect(parseMail(server.received[1]!.raw).text).toContain(
      'Compromised log ids: hospital-a:10, hospital-a:11, hospital-a:12',
    )
    // Only once: a second incident with that key (other entries) folds.
    now.value += 1000
    const again = await service.report(damage('first:repaired', ['hospital-a:12'], true))
    expect(again.foldedInto).toBeDefined()
    expect(server.received).toHaveLength(2)
  })
})
