import type { Incident, IncidentKind } from '../../node/alerts/index.ts'

/** A plausible incident of each kind: origin `a`, reported by `b`, entries a:3 and a:4. */
export function makeIncident(
  kind: IncidentKind = 'modified',
  overrides: Partial<Incident> = {},
): Incident {
  const base = {
    reportingNode: 'b',
    origin: 'a',
    entryIds: ['a:4', 'a:3'],
    detectedAt: '2024-05-01T10:00:00.000Z',
    summary: `Entries a:3 and a:4 of a fail verification in the replica on b (${kind}).`,
    evidence: {
      expectedHash: new Uint8Array(32).fill(0xab),
      foundHash: 'cd'.repeat(32),
      signedHead: { origin: 'a', treeSize: 10, root: 'ef'.repeat(32) },
    },
  }
  const incident =
    kind === 'modified' || kind === 'deleted'
      ? { ...base, kind }
      : { ...base, kind, key: `tree-size-10/${kind}` }
  return { ...incident, ...overrides } as Incident
}
