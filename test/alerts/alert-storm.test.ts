import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type AlertBody, AlertService, type Incident } from '../../node/alerts/index.ts'
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

async function setup(nowMs: { value: number }) {
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
})
