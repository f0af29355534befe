import { describe, expect, it } from 'vitest'
import { validateAuditEventBundle } from '../../../node/core/fhir/index.ts'
import { trailPatientOf, verifySearchBundle } from '../../../node/core/fhir/search-verify.ts'
import { exampleLogin, exampleRest } from './r4-examples.ts'

/** The published R4 examples as another FHIR server's ITI-81 answer would carry them. */
function foreignSearchset(): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: 2,
    link: [{ relation: 'self', url: 'https://arr.example/fhir/AuditEvent?date=ge2013-06-20' }],
    entry: [exampleLogin, exampleRest].map((resource) => ({
      fullUrl: `https://arr.example/fhir/AuditEvent/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  }
}

describe('searchset Bundles of AuditEvents: the R4 structure and a Bundle without proofs', () => {
  it('accepts the published R4 AuditEvent examples in a searchset Bundle', () => {
    expect(validateAuditEventBundle(foreignSearchset())).toEqual([])
  })

  it('refuses searchset rules broken: a request in an entry (bdl-3), total in a collection (bdl-1)', () => {
    const withRequest = foreignSearchset()
    ;(withRequest.entry as Array<Record<string, unknown>>)[0]!.request = {
      method: 'POST',
      url: 'AuditEvent',
    }
    expect(validateAuditEventBundle(withRequest)).toEqual([
      expect.objectContaining({ field: 'Bundle.entry[0].request' }),
    ])
    const collection = { ...foreignSearchset(), type: 'collection' }
    expect(validateAuditEventBundle(collection).map((i) => i.field)).toContain('Bundle.total')
  })

  it('verifies nothing in a Bundle that carries no proofs, and says so', () => {
    const keys = {
      networkId: '00'.repeat(32),
      version: 0,
      versionHash: '00'.repeat(32),
      quorum: 1,
      blsKeys: [],
      ed25519Keys: new Map(),
      vrfPublicKey: new Uint8Array(32),
    }
    const checked = verifySearchBundle(foreignSearchset(), { keys })
    expect(checked.result.verified).toEqual([])
    expect(checked.result.failures).toEqual([{ entryId: 'answer', reason: 'has no entry list' }])
    const noSelf = verifySearchBundle({ resourceType: 'Bundle', type: 'searchset' }, { keys })
    expect(noSelf.result.failures[0]).toMatchObject({ entryId: 'bundle' })
  })
})

describe("which searches ask for one patient's whole trail (and carry its completeness proof)", () => {
  const url = (q: string) => `https://node.example/fhir/AuditEvent?${q}`
  it('one patient with only paging and presentation: that patient', () => {
    for (const q of [
      'patient=Patient/MRN-1',
      'entity=MRN-1&_count=5',
      'entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|MRN-1&_format=json&mapping=balp',
      'patient=MRN-1&entity.identifier=MRN-1',
      // Every outcome, every action: nothing narrowed, no filter field.
      'patient=MRN-1&outcome=0,4',
      'patient=MRN-1&action=C,R,U,D,E',
    ])
      expect({ q, patient: trailPatientOf(url(q)) }).toEqual({ q, patient: 'MRN-1' })
  })

  it('narrowed, no patient, a later page or a refused search: none', () => {
    for (const q of [
      'patient=MRN-1&date=ge2024-01-01',
      'patient=MRN-1&agent=Practitioner/1',
      'patient=MRN-1&agent.identifier=dr-1',
      'patient=MRN-1&type=110110',
      'patient=MRN-1&subtype=read',
      'patient=MRN-1&action=R',
      'patient=MRN-1&outcome=4',
      'patient=MRN-1&_cursor=abc',
      '_count=10',
      'patient=MRN-1&bogus=1',
    ])
      expect({ q, patient: trailPatientOf(url(q)) }).toEqual({ q, patient: undefined })
  })

  it("a patient session's search naming no patient is that patient's trail; naming another is not", () => {
    expect(trailPatientOf(url('_count=10'), { patientId: 'MRN-1' })).toBe('MRN-1')
    expect(trailPatientOf(url('patient=MRN-2'), { patientId: 'MRN-1' })).toBeUndefined()
  })
})
