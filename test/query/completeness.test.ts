import { describe, expect, it } from 'vitest'
import { parseQueryFilter } from '../../node/core/trust/index.ts'
import { completenessPatientOf } from '../../node/query/completeness.ts'

/** When an answer carries a completeness proof: one patient, nothing else narrowing it. */
describe('completenessPatientOf', () => {
  it('names the patient of a patient-only filter (kind absent, event or all)', () => {
    for (const filter of [
      { patient: '9' },
      { patient: '9', kind: 'event' },
      { patient: '9', kind: 'all' },
    ])
      expect(completenessPatientOf(parseQueryFilter(filter)), JSON.stringify(filter)).toBe('9')
  })

  it('gives none for any narrowing, or without a patient', () => {
    for (const filter of [
      {},
      { actor: 'dr-1' },
      { patient: '9', actor: 'dr-1' },
      { patient: '9', action: 'read' },
      { patient: '9', resource: 'labs' },
      { patient: '9', from: '2026-01-01T00:00:00Z' },
      { patient: '9', to: '2026-01-01T00:00:00Z' },
      { patient: '9', origin: 'hospital-a' },
      { patient: '9', outcome: 'success' },
      { patient: '9', kind: 'user' },
    ])
      expect(completenessPatientOf(parseQueryFilter(filter)), JSON.stringify(filter)).toBe(
        undefined,
      )
  })
})
