import { describe, expect, it } from 'vitest'
import { duplicateKeyOf } from '../../node/api/json-duplicates.ts'
import { errorOf, eventInput, TOKEN, useApi } from './harness.ts'

const startApi = useApi()

/** An AuditEvent as an EHR with its own FHIR export would send it (as in fhir.test.ts). */
const fhir = JSON.stringify({
  resourceType: 'AuditEvent',
  type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
  action: 'R',
  period: { start: '2023-12-04T19:00:00+01:00' },
  recorded: '2023-12-04T19:00:00Z',
  outcome: '0',
  agent: [{ who: { identifier: { value: 'dr-1' } }, requestor: true }],
  source: { observer: { display: 'ehr' } },
  entity: [
    {
      what: { identifier: { value: 'patient-1' } },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' },
    },
    { what: { identifier: { value: 'rx-1' } }, description: 'user_prescriptions' },
  ],
})

describe('both ingest paths refuse JSON that parsers read differently', () => {
  const paths = [
    {
      path: '/api/v1/events',
      type: 'application/json',
      // The signed event says patient-1; a proxy that keeps the first key would see patient-evil.
      duplicate: JSON.stringify(eventInput(1)).replace(
        '"patientId":',
        '"patientId":"patient-evil","patientId":',
      ),
      good: JSON.stringify(eventInput(1)),
    },
    {
      path: '/fhir/AuditEvent',
      type: 'application/fhir+json',
      duplicate: fhir.replace('"action":"R"', '"action":"D","action":"R"'),
      good: fhir,
    },
  ]

  for (const p of paths) {
    it(`${p.path}: duplicate keys, a byte order mark and a non-UTF-8 charset; nothing written`, async () => {
      const api = await startApi()
      const send = (body: string | Uint8Array<ArrayBuffer>, type = p.type) =>
        fetch(`${api.url}${p.path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type },
          body,
        })
      const dup = await errorOf(await send(p.duplicate))
      expect(dup).toMatchObject({ status: 400, code: 'ARGUMENT_INVALID' })
      expect(dup.message).toMatch(/twice in one object/)
      const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from(p.good)])
      const withBom = await errorOf(await send(bom))
      expect(withBom).toMatchObject({ status: 400, details: { field: 'body' } })
      expect(withBom.message).toMatch(/byte order mark/)
      const latin1 = await errorOf(await send(p.good, `${p.type}; charset=iso-8859-1`))
      expect(latin1).toMatchObject({ status: 415, details: { field: 'Content-Type' } })
      expect(latin1.message).toMatch(/charset utf-8, or none/)
      expect(api.size()).toBe(0)
      // The same body, once, plain: accepted.
      expect((await send(p.good, `${p.type}; charset="UTF-8"`)).status).toBe(201)
      expect(api.size()).toBe(1)
    })
  }

  it('finds duplicates after unescaping, at any depth, and not across objects', () => {
    expect(duplicateKeyOf('{"a":1,"\\u0061":2}')).toEqual({ key: 'a', path: '' })
    expect(duplicateKeyOf('{"events":[{"x":1},{"x":1,"y":{"z":[1,"z"],"z":2}}]}')).toEqual({
      key: 'z',
      path: 'events[1].y',
    })
    expect(duplicateKeyOf('{"a":{"b":1},"b":{"a":"\\"a\\""},"c":["a","a"]}')).toBeUndefined()
  })
})
