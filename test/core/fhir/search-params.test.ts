import { describe, expect, it } from 'vitest'
import { makeEntry } from '../../../node/core/entry.ts'
import { groupParams, parseDate, parseFhirSearch } from '../../../node/core/fhir/search-params.ts'
import { filterMismatch, parseQueryFilter } from '../../../node/core/trust/index.ts'

const search = (query: string) => parseFhirSearch(groupParams(new URLSearchParams(query)))
const fieldOf = (query: string) => {
  try {
    search(query)
  } catch (err) {
    return (err as { details: { field: string } }).details.field
  }
  return 'accepted'
}

describe('FHIR AuditEvent search parameters → query filter', () => {
  it('maps the ITI-81 query of CH:ATC (entity.identifier with a system, a date range)', () => {
    expect(
      search(
        'entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|761337610411265304&date=ge2023-01-01&date=le2023-12-31',
      ),
    ).toEqual({
      filter: {
        patient: '761337610411265304',
        from: '2023-01-01T00:00:00.000Z',
        to: '2024-01-01T00:00:00.000Z',
      },
    })
  })

  it('reads mapping (how entries are shown, not a filter): balp or ehrlog, once', () => {
    expect(search('patient=MRN-A&mapping=balp')).toEqual({
      filter: { patient: 'MRN-A' },
      mapping: 'balp',
    })
    expect(search('mapping=ehrlog')).toEqual({ filter: {}, mapping: 'ehrlog' })
    expect(fieldOf('mapping=dicom')).toBe('mapping')
    expect(fieldOf('mapping=balp&mapping=balp')).toBe('mapping')
    expect(fieldOf('mapping=')).toBe('mapping')
  })

  it('reads patient and agent references and identifiers, _count and the cursor', () => {
    expect(search('patient=Patient/MRN-A&agent.identifier=|dr-1&_count=7&_cursor=abc')).toEqual({
      filter: { patient: 'MRN-A', actor: 'dr-1' },
      count: '7',
      cursor: 'abc',
    })
    expect(search('entity=MRN-A&patient=https://ehr.example/fhir/Patient/MRN-A').filter).toEqual({
      patient: 'MRN-A',
    })
    expect(search('agent=Practitioner/12').filter).toEqual({ actor: 'Practitioner/12' })
  })

  it('turns type, subtype and action codes into the ehrlog actions they cover (AND across)', () => {
    expect(search('action=R').filter.action).toBe('export,print,read')
    expect(search('action=C,D').filter.action).toBe('create,delete')
    expect(search('type=110114').filter.action).toBe('login,logout')
    expect(search('type=110114&subtype=110122').filter.action).toBe('login')
    expect(search('type=110110&action=R').filter.action).toBe('print,read')
    expect(
      search('subtype=https://ehrlog.example/fhir/CodeSystem/action|print').filter.action,
    ).toBe('print')
    // Every action: no criterion left.
    expect(search('action=C,R,U,D,E').filter.action).toBeUndefined()
    expect(search('outcome=0').filter.outcome).toBe('success')
    expect(search('outcome=8,12').filter.outcome).toBe('failure')
    expect(search('outcome=0,4').filter.outcome).toBeUndefined()
  })

  it('reads date prefixes as the FHIR ranges of the value precision', () => {
    const day = parseDate('2023-12-04')
    expect([
      day.prefix,
      new Date(day.start).toISOString(),
      new Date(day.end).toISOString(),
    ]).toEqual(['eq', '2023-12-04T00:00:00.000Z', '2023-12-05T00:00:00.000Z'])
    expect(search('date=gt2023-12-04T19:00:01%2B01:00').filter).toEqual({
      from: '2023-12-04T18:00:02.000Z',
    })
    // An unencoded + (a space once decoded) is still the zone.
    expect(search('date=gt2023-12-04T19:00:01+01:00').filter).toEqual({
      from: '2023-12-04T18:00:02.000Z',
    })
    expect(search('date=lt2023-12').filter).toEqual({ to: '2023-12-01T00:00:00.000Z' })
    expect(search('date=le2023-12').filter).toEqual({ to: '2024-01-01T00:00:00.000Z' })
    expect(search('date=ge2023-01-01&date=ge2023-06-01').filter).toEqual({
      from: '2023-06-01T00:00:00.000Z',
    })
  })

  it('refuses what it cannot answer exactly, naming the parameter', () => {
    expect(fieldOf('name=x')).toBe('name')
    expect(fieldOf('patient:missing=true')).toBe('patient:missing')
    expect(fieldOf('date=2023-02-30')).toBe('date')
    expect(fieldOf('date=2023-12-04T10:00')).toBe('date') // a time needs its zone
    expect(fieldOf('date=sa2023')).toBe('date')
    expect(fieldOf('date=ge2024&date=lt2023')).toBe('date')
    expect(fieldOf('patient=A&patient=B')).toBe('patient')
    expect(fieldOf('patient=Observation/1')).toBe('patient')
    expect(fieldOf('entity.identifier=sys|')).toBe('entity.identifier')
    expect(fieldOf('type=rest')).toBe('type')
    expect(fieldOf('type=110106&action=E')).toBe('action')
    expect(fieldOf('outcome=0&outcome=4')).toBe('outcome')
    expect(fieldOf('_count=1&_count=2')).toBe('_count')
    expect(fieldOf('agent=')).toBe('agent')
    expect(fieldOf('patient=A&patient=A')).toBe('accepted')
    expect(fieldOf('_format=json&_format=json')).toBe('_format')
    expect(fieldOf('_format=xml')).toBe('_format')
    expect(fieldOf('_format=application/fhir%2Bjson')).toBe('accepted')
    expect(fieldOf('_format=application/fhir+json')).toBe('accepted')
  })

  it('gives filters the shared filter code parses and matches (action lists, outcome)', () => {
    const filter = parseQueryFilter(search('action=R&outcome=4').filter)
    expect(filter).toEqual({ action: 'export,print,read', outcome: 'failure' })
    const entry = (action: string, outcome: string) =>
      makeEntry(
        'hospital-a',
        1,
        undefined,
        'event',
        {
          patientId: 'p',
          actorId: 'a',
          action,
          resource: 'r',
          time: '2023-12-04T19:00:00.000Z',
          outcome,
        },
        '2023-12-04T19:00:01.000Z',
      ).entry
    expect(filterMismatch(entry('print', 'failure'), filter)).toBeUndefined()
    expect(filterMismatch(entry('update', 'failure'), filter)).toMatch(/action update/)
    expect(filterMismatch(entry('read', 'success'), filter)).toMatch(/outcome success/)
    expect(() => parseQueryFilter({ action: 'read,peek' })).toThrow(/action/)
    expect(parseQueryFilter({ action: 'read,export,read' })).toEqual({ action: 'export,read' })
  })
})
