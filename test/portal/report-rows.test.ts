import { describe, expect, it } from 'vitest'
import { BUNDLE_FORMAT as CLI_BUNDLE_FORMAT } from '../../client/verify/bundle.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import type { VerifiedEntry } from '../../node/core/trust/index.ts'
import { BUNDLE_FORMAT, bundleJson } from '../../node/portal/browser/report-bundle.ts'
import {
  csvCell,
  newestFirst,
  reportCsv,
  reportRowsOf,
  timeFormatter,
} from '../../node/portal/browser/report-rows.ts'
import { makeEvent } from '../helpers/fixtures.ts'

/** A verified entry as verifyQueryAnswer returns it; only the fields the report reads. */
function verified(
  origin: string,
  seq: number,
  body: AuditEvent | object,
  kind = 'event',
): VerifiedEntry {
  return {
    id: `${origin}:${seq}`,
    integrity: 'cosigned',
    entry: { entry: { kind, origin, seq, body } },
  } as unknown as VerifiedEntry
}

describe('the access report rows', () => {
  const read = makeEvent(1, { patientId: 'MRN-A', actorName: 'Dr. Lea Meier' })
  const later = makeEvent(5, { patientId: 'MRN-A', action: 'print', detail: 'prescription' })
  const query = makeEvent(9, {
    patientId: 'MRN-A',
    actorId: 'eve@hospital-b',
    action: 'query',
    resource: 'audit_log',
    detail: 'self-registered patient account, not verified by hospital-b',
    notes: 'via http, filter {"patient":"MRN-A"}',
  })
  const proofRead = makeEvent(3, { patientId: 'MRN-A', action: 'read', resource: 'audit_log' })
  const rows = reportRowsOf([
    verified('hospital-a', 1, read),
    verified('hospital-b', 7, query),
    verified('hospital-a', 2, later),
    verified('hospital-a', 3, proofRead),
    verified('hospital-a', 4, { op: 'register', username: 'x@hospital-a' }, 'user'),
  ])

  it('puts queries and entry-proof reads of the audit log apart from accesses, and leaves out user records', () => {
    expect(rows.map((r) => [r.id, r.section])).toEqual([
      ['hospital-a:1', 'accesses'],
      ['hospital-b:7', 'views'],
      ['hospital-a:2', 'accesses'],
      ['hospital-a:3', 'views'],
    ])
    const q = rows.find((r) => r.id === 'hospital-b:7')!
    expect(q.selfRegistered).toBe(true)
    expect(q.account).toBe('self-registered patient account, not verified by hospital-b')
    expect(rows.find((r) => r.id === 'hospital-a:3')!.selfRegistered).toBe(false)
  })

  it('sorts newest first by event time, not by (origin, seq)', () => {
    expect(newestFirst(rows).map((r) => r.id)).toEqual([
      'hospital-b:7',
      'hospital-a:2',
      'hospital-a:3',
      'hospital-a:1',
    ])
  })

  it('writes the CSV with local and UTC times, and defuses formulas', () => {
    const csv = reportCsv(rows, timeFormatter('en-GB', 'Europe/Zurich')).split('\r\n')
    expect(csv).toHaveLength(6) // header, 4 rows, and the empty string after the last CRLF
    expect(csv[1]).toBe(
      [
        'audit trail view',
        '2023-12-04T19:00:09.000Z',
        '"4 Dec 2023, 20:00:09 CET"',
        'eve@hospital-b',
        '',
        '"self-registered patient account, not verified by hospital-b"',
        'Searched the audit trail',
        'query',
        'audit log',
        'hospital-b',
        'MRN-A',
        'success',
        '"via http, filter {""patient"":""MRN-A""}"',
        'hospital-b:7',
        'cosigned',
      ].join(','),
    )
    expect(csv[4]).toContain(',dr-1,Dr. Lea Meier,,Viewed,read,user_prescriptions,hospital-a,')
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`)
    expect(csvCell('-1')).toBe("'-1")
  })

  it('makes a bundle in the format the CLI reads, complete only when no next page is left', () => {
    expect(BUNDLE_FORMAT).toBe(CLI_BUNDLE_FORMAT)
    const source = {
      createdBy: 'anish@hospital-a',
      filter: {},
      scope: { patientId: 'MRN-A' },
      startCursor: undefined,
      network: { members: [] },
      answers: [{ entries: [1, 2] }, { entries: [3] }],
      next: undefined,
    }
    const whole = JSON.parse(bundleJson(source, new Date(0))) as Record<string, unknown>
    expect(whole).toEqual({
      format: 'ehrlog-bundle/1',
      createdAt: '1970-01-01T00:00:00.000Z',
      createdBy: 'anish@hospital-a',
      filter: {},
      scope: { patientId: 'MRN-A' },
      network: { members: [] },
      // The membership changes its checkpoints need: none while the network is at version 0.
      membership: [],
      answers: source.answers,
      end: 'complete',
      max: 3,
    })
    const part = JSON.parse(bundleJson({ ...source, next: 'c', startCursor: 's' })) as Record<
      string,
      unknown
    >
    expect([part.end, part.cursor]).toEqual(['max', 's'])
  })
})
