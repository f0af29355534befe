import { describe, expect, it } from 'vitest'
import { incidentId, incidentOfCheckpoint, normalizeIncident } from '../../node/alerts/index.ts'

describe('incidentOfCheckpoint', () => {
  it('keeps kind, origin, key, summary and evidence, names no entries, and dates the detection', () => {
    const detectedAt = new Date('2026-01-02T03:04:05.000Z')
    const checkpoint = {
      kind: 'diverged' as const,
      origin: 'hospital-b',
      key: 'size-8:aa:bb',
      summary: 'hospital-c holds another root for hospital-b at size 8',
      evidence: { ours: 'aa', theirs: 'bb' },
    }
    const incident = incidentOfCheckpoint('hospital-a', checkpoint, detectedAt)
    expect(incident).toEqual({
      ...checkpoint,
      reportingNode: 'hospital-a',
      entryIds: [],
      detectedAt: '2026-01-02T03:04:05.000Z',
    })
    // An alert the service accepts, deduplicated by its key.
    const again = incidentOfCheckpoint('hospital-a', checkpoint)
    expect(incidentId(normalizeIncident(incident))).toBe(incidentId(normalizeIncident(again)))
    const other = incidentOfCheckpoint('hospital-a', { ...checkpoint, key: 'size-9:aa:cc' })
    expect(incidentId(normalizeIncident(other))).not.toBe(incidentId(incident))
  })
})
