import { describe, expect, it } from 'vitest'
import {
  INCIDENT_KINDS,
  incidentId,
  normalizeIncident,
  renderAlertEmail,
} from '../../node/alerts/index.ts'
import { makeIncident } from './fixtures.ts'
import { parseMail } from './smtp-harness.ts'

async function render(incident = makeIncident(), to = ['admin@b.example']) {
  const normalized = normalizeIncident(incident)
  const id = incidentId(normalized)
  const raw = await renderAlertEmail(normalized, {
    id,
    from: 'ehrlog@b.example',
    to,
    date: new Date('2024-05-01T10:00:05.000Z'),
  })
  return { id, raw, mail: parseMail(raw) }
}

describe('renderAlertEmail', () => {
  it('writes the seed-style body with node, origin, range, ids, time, repair and advice', async () => {
    const { id, raw, mail } = await render()
    expect(raw.toString('latin1')).toMatch(/^Content-Transfer-Encoding: 7bit\r$/m)
    expect(mail.headers.get('to')).toBe('admin@b.example')
    expect(mail.headers.get('message-id')).toBe(`<${id}@b.ehrlog>`)
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated')
    expect(mail.text).toContain(
      '[Unauthorized Log Modifications] Unauthorized modifications have been made\nto the audit records\nImmediate action needs to be taken\n',
    )
    for (const line of [
      'Reporting node: b',
      'Origin: a',
      'Seq range: 3-4',
      'Compromised log ids: a:3, a:4',
      'Detected at: 2024-05-01T10:00:00.000Z',
      'Repair: NOT repaired yet',
      `Incident: ${id}`,
      'What to do:',
    ]) {
      expect(mail.text).toContain(`\n${line}\n`)
    }
    expect(mail.text).toContain("write access to b's database folder")
    // RFC 5322 lines (and 7bit): nothing over 76 characters.
    for (const line of mail.text.split('\n')) expect(line.length).toBeLessThanOrEqual(76)
  })

  it('attaches the whole incident and its evidence as evidence.json, bytes as hex', async () => {
    const { id, mail } = await render()
    expect(mail.attachments.map((a) => a.filename)).toEqual(['evidence.json'])
    const evidence = JSON.parse(mail.attachments[0]!.content.toString('utf8'))
    expect(evidence).toMatchObject({
      incidentId: id,
      kind: 'modified',
      reportingNode: 'b',
      origin: 'a',
      entryIds: ['a:3', 'a:4'],
      evidence: { expectedHash: 'ab'.repeat(32), foundHash: 'cd'.repeat(32) },
    })
  })

  it('says where the repair came from, and puts the caller action first', async () => {
    const { mail } = await render(
      makeIncident('modified', {
        repaired: { from: 'c', entryIds: ['a:3', 'a:4'] },
        action: 'Call the night shift.',
      }),
    )
    expect(mail.text).toContain('Repair: repaired from c (2 entries restored and verified')
    expect(mail.text).toContain(
      'What to do:\n- Call the night shift.\n- The replica was repaired from c;',
    )
  })

  it('lists at most 1000 ids in the body and all of them in evidence.json', async () => {
    const ids = Array.from({ length: 1500 }, (_, i) => `a:${i + 1}`)
    const { mail } = await render(makeIncident('deleted', { entryIds: ids }))
    const unwrapped = mail.text.replace(/\n {2}/g, ' ')
    expect(unwrapped).toContain('Compromised log ids: a:1, a:2, a:3,')
    expect(unwrapped).toContain('a:999, a:1000, ... and 500 more (all in evidence.json)')
    expect(unwrapped).not.toContain('a:1001')
    const evidence = JSON.parse(mail.attachments[0]!.content.toString('utf8'))
    expect(evidence.entryIds).toHaveLength(1500)
  })

  it('keeps non-ASCII summaries readable (quoted-printable, UTF-8)', async () => {
    const { raw, mail } = await render(
      makeIncident('modified', { summary: 'Einträge geändert — Prüfung nötig' }),
    )
    expect(raw.toString('latin1')).toMatch(/^Content-Transfer-Encoding: quoted-printable\r$/m)
    expect(mail.text).toContain('\nEinträge geändert — Prüfung nötig\n')
  })

  it('survives evidence that is not JSON (a cycle) rather than losing the alert', async () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const { mail } = await render(makeIncident('modified', { evidence: cyclic }))
    const evidence = JSON.parse(mail.attachments[0]!.content.toString('utf8'))
    expect(evidence.evidence.error).toMatch(/could not be serialised/)
  })

  it.each(INCIDENT_KINDS)(
    '%s: subject and first line carry the same seed-style tag',
    async (kind) => {
      const { mail } = await render(makeIncident(kind))
      const tag = {
        modified: '[Unauthorized Log Modifications]',
        deleted: '[Unauthorized Log Deletions]',
        diverged: '[Replica Divergence]',
        'index-diverged': '[Index Divergence]',
        equivocation: '[Equivocation]',
        'invalid-checkpoint': '[Invalid Checkpoint]',
        'quorum-degraded': '[Network Degraded]',
        'quorum-recovered': '[Network Recovered]',
        'rotated-out-key': '[Rotated-Out Key Used]',
      }[kind]
      expect(mail.subject.startsWith(`${tag} `)).toBe(true)
      expect(mail.text.startsWith(`${tag} `)).toBe(true)
      if (kind === 'deleted') {
        expect(mail.text).toContain(
          'Some Logs missing in the audit database\nUnauthorized deletions have been made to the audit records\n',
        )
      }
    },
  )

  it('has no To header without admins', async () => {
    const { mail } = await render(makeIncident(), [])
    expect(mail.headers.has('to')).toBe(false)
  })
})
