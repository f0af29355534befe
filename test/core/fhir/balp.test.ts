import { describe, expect, it } from 'vitest'
import { parseFhirAuditEvent, validateAuditEvent } from '../../../node/core/fhir/index.ts'
import { balpPatientReadServer } from './balp-examples.ts'

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

describe('BALP PatientRead input (IHE example ex-auditBasicReadServer)', () => {
  it('is a valid R4 AuditEvent', () => {
    expect(validateAuditEvent(balpPatientReadServer)).toEqual([])
  })

  it('is read as one read of the patient, when its requesting user carries an id', () => {
    const r = clone(balpPatientReadServer)
    // The example's user is a display name only (from an OAuth token); with an identifier
    // (as the comprehensive OAuth example has) it is an ehrlog actor.
    ;(r.agent[2]!.who as Record<string, unknown>).identifier = { value: 'jsmith' }
    expect(parseFhirAuditEvent(r)).toMatchObject({
      patientId: 'ex-patient',
      actorId: 'jsmith',
      actorName: 'John Smith',
      action: 'read',
      resource: 'List',
      resourceId: 'ex-list',
      time: '2020-04-29T09:49:00.000Z',
      outcome: 'success',
    })
  })

  it('is refused as it stands: its requesting user has no id, and ehrlog records who', () => {
    expect(() => parseFhirAuditEvent(balpPatientReadServer)).toThrow(
      expect.objectContaining({
        code: 'EVENT_INVALID',
        details: expect.objectContaining({ field: 'AuditEvent.agent[2].who' }),
      }),
    )
  })
})
