import { describe, expect, it } from 'vitest'
import { validateAuditEventBundle } from '../../../node/core/fhir/index.ts'
import { verifySearchBundle } from '../../../node/core/fhir/search-verify.ts'
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
