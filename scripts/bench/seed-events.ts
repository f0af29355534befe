import { type AuditEvent, parseEvent } from '../../node/core/event.ts'

/**
 * Event `i` shaped like the seed's rows (~300 bytes of JSON): visits of 8 events, a visit
 * seen by one or two clinicians, one second apart. The benchmarks choose the patient.
 */
export function seedEvent(i: number, patient: string, actorId?: string): AuditEvent {
  const visit = Math.floor(i / 8)
  return parseEvent({
    patientId: patient,
    patientName: `name_${patient}`,
    actorId: actorId ?? `staff-${(visit * 31 + (i % 2)) % 400}`,
    action: (['read', 'update', 'create', 'print'] as const)[i % 4],
    detail: 'prescription',
    resource: 'user_prescriptions',
    time: new Date(Date.UTC(2023, 11, 4) + i * 1000).toISOString(),
    notes: `Doctor added a new prescription, visit ${visit}`,
  })
}
