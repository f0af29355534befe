import { describe, expect, it } from 'vitest'
import { alertText, type Incident } from '../../node/alerts/index.ts'
import type { IntegrityIncident } from '../../node/integrity/index.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { A, B, useIntegrityNetwork, waitFor } from './harness.ts'

/*
 * Who repaired what, as the incident tells it. Records inserted past the feed's signed tail
 * are removed by the node itself (no head its origin signed covers them): nothing comes from a
 * peer, so the incident must not say "repaired from <this node>", and it says "inserted".
 */
describe('the repair is credited to whoever did it', () => {
  const net = useIntegrityNetwork()

  async function incidentOn(name: string): Promise<IntegrityIncident> {
    await waitFor(`an incident on ${name}`, () =>
      net.incidents(name).some((i) => i.kind === 'modified' && i.origin === A),
    )
    return net.incidents(name).find((i) => i.kind === 'modified' && i.origin === A)!
  }

  it('inserted records: "inserted", removed by the node itself, no peer named as the source', async () => {
    await net.setUp()
    const b = await net.tamperAndRestart(B, A, async (t) => {
      await t.insertAfterTail(13, A, makeEvent(13))
      await t.insertAfterTail(14, A, makeEvent(14))
    })
    const incident = await incidentOn(B)
    expect(incident.entryIds).toEqual(['hospital-a:13', 'hospital-a:14'])
    expect(incident.summary).toMatch(
      /^2 records were inserted into hospital-a's feed in hospital-b's replica \(covered by no head hospital-a signed\): hospital-a:13, hospital-a:14\./,
    )
    expect(incident.summary).toMatch(
      /Repaired by hospital-b itself: .* removed; nothing was needed from a peer\.$/,
    )
    expect(incident.summary).not.toMatch(/repaired from/i)
    expect(incident.repaired).toMatchObject({
      local: true,
      removed: ['hospital-a:13', 'hospital-a:14'],
    })
    expect(b.store.size(A)).toBe(12)
    const text = alertText(incident as Incident, 'alert-1', '00').replace(/\s+/g, ' ')
    expect(text).toMatch(/repaired here \(2 entries that no head hospital-a signed covers removed/)
    expect(text).not.toMatch(/repaired from hospital-b/i)
  })
})
