import { afterEach, describe, expect, it } from 'vitest'
import { alertText, type Incident } from '../../node/alerts/index.ts'
import { MemoryTree } from '../../node/core/merkle/index.ts'
import type { IntegrityIncident } from '../../node/integrity/index.ts'
import { parseMail, startSmtpServer } from '../alerts/smtp-harness.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { A, B, useIntegrityNetwork, waitFor } from './harness.ts'

/*
 * Who repaired what, as the incident tells it. Records inserted past the feed's signed tail
 * are removed by the node itself (no head its origin signed covers them): nothing comes from a
 * peer, so the incident must not say "repaired from <this node>", and it says "inserted".
 */
describe('the repair is credited to whoever did it', () => {
  const net = useIntegrityNetwork()
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

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

  it('an insider re-chains and re-signs the last entries: each is named, and the repaired follow-up is emailed once peers are back', async () => {
    const smtp = await startSmtpServer()
    cleanups.push(() => smtp.close())
    await net.setUp()
    await net.checkpoint()
    await net.stop(B)
    await net.stop('hospital-c')
    await net.withAdmins(A, smtp.port)
    // Peers down: nothing to repair from, so the first report is "not repaired yet".
    const a = await net.tamperAndRestart(A, A, async (t, signingKey) => {
      expect(await t.rewriteChainFrom(10, 'nothing to see here')).toBe(3)
      await t.resignHeads(A, 10, signingKey)
    })
    const first = await incidentOn(A)
    expect(first.repaired).toBeUndefined()
    expect(first.summary).toMatch(/Not repaired yet/)
    // The last entry is all the cosigned root can blame; the stored tree nodes point further back.
    expect(first.entryIds).toEqual(['hospital-a:12'])
    expect(first.summary).toContain(
      'the tree nodes stored with hospital-a:10 do not match the entries: entries from there on may have been rewritten',
    )
    await waitFor('the first email', () => smtp.received.length > 0)
    const firstMail = parseMail(smtp.received[0]!.raw)
    expect(firstMail.subject).toMatch(/^\[Unauthorized Log Modifications\] 1 entry of hospital-a/)
    expect(firstMail.text).toContain('Repair: NOT repaired yet')

    // B is back: its sync (A's feed was damaged at open) or A's repair restores 10, 11 and 12,
    // whichever comes first; the follow-up names every entry that was rewritten either way.
    await net.start(B)
    await waitFor('A to see B', () => a.net.peers().some((p) => p.name === B))
    await a.integrity.scrubNow()
    await waitFor('the repaired follow-up', () =>
      net.incidents(A).some((i) => i.kind === 'modified' && i.repaired !== undefined),
    )
    const followUps = net.incidents(A).filter((i) => i.repaired !== undefined)
    expect(followUps).toHaveLength(1)
    const followUp = followUps[0]!
    expect(followUp.key).toBe(`${first.key}:repaired`)
    expect(followUp.entryIds).toEqual(['hospital-a:10', 'hospital-a:11', 'hospital-a:12'])
    expect(followUp.repaired?.from).toBe(B)
    for (const seq of [10, 11, 12])
      expect((await a.store.getEntry(A, seq))!.entry.body).toMatchObject({
        notes: `note number ${seq - 1}`,
      })
    // The follow-up is emailed (not folded into the first incident's episode), once.
    await waitFor('the follow-up email', () => smtp.received.length >= 2)
    const mail = parseMail(smtp.received[1]!.raw)
    expect(mail.subject).toMatch(/^\[Unauthorized Log Modifications\] 3 entries of hospital-a/)
    expect(mail.text).toContain('Compromised log ids: hospital-a:10, hospital-a:11, hospital-a:12')
    expect(mail.text.replace(/\s+/g, ' ')).toContain('Repair: repaired from hospital-b')
    await a.integrity.scrubNow()
    await new Promise((r) => setTimeout(r, 1000))
    expect(smtp.received).toHaveLength(2)
  })

  it('an insider who also recomputes the tree nodes: every rewritten entry restored in one repair, and named', async () => {
    await net.setUp()
    await net.checkpoint()
    const a = await net.tamperAndRestart(A, A, async (t, signingKey) => {
      // Entries 7 to 12 rewritten and re-chained, the nodes stored with them recomputed over
      // the forged leaves, the heads at 8 and 12 re-signed: only the cosigned root disagrees.
      expect(await t.rewriteChainFrom(7, 'nothing to see here')).toBe(6)
      const leaves = await t.leafHashes()
      for (let seq = 7; seq <= leaves.length; seq++) {
        const nodes: Uint8Array[] = []
        for (let level = 1; seq % 2 ** level === 0; level++)
          nodes.push(new MemoryTree(leaves.slice(seq - 2 ** level, seq)).root())
        await t.writePlain(seq, nodes, (await t.readPlain(seq)).entryBytes)
      }
      expect(await t.resignHeads(A, 7, signingKey)).toBe(2)
    })
    const incident = await incidentOn(A)
    expect(incident.summary).not.toMatch(/tree nodes/)
    expect(incident.repaired).toBeDefined()
    expect(incident.entryIds).toEqual([7, 8, 9, 10, 11, 12].map((seq) => `hospital-a:${seq}`))
    expect(net.incidents(A).filter((i) => i.kind === 'modified')).toHaveLength(1)
    for (let seq = 7; seq <= 12; seq++)
      expect((await a.store.getEntry(A, seq))!.entry.body).toMatchObject({
        notes: `note number ${seq - 1}`,
      })
    expect((await a.store.verify()).ok).toBe(true)
  })

  it('damage that sync restores before the next scrub still gets its repaired follow-up', async () => {
    await net.setUp()
    await net.checkpoint()
    await net.stop(A)
    await net.stop('hospital-c')
    const b = await net.tamperAndRestart(B, A, (t) => t.truncate(9, false))
    await waitFor('the deleted incident', () =>
      net.incidents(B).some((i) => i.kind === 'deleted' && i.origin === A),
    )
    const first = net.incidents(B).find((i) => i.kind === 'deleted')!
    expect(first.repaired).toBeUndefined()
    // A is back: plain sync pulls the missing tail, and the next scrub finds nothing wrong.
    await net.start(A)
    await waitFor('sync to refill the tail', () => b.store.size(A) === 12)
    await b.integrity.scrubNow()
    await waitFor('the repaired follow-up', () =>
      net.incidents(B).some((i) => i.key === `${first.key}:repaired`),
    )
    const followUp = net.incidents(B).find((i) => i.key === `${first.key}:repaired`)!
    expect(followUp.kind).toBe('deleted')
    expect(followUp.entryIds).toEqual(first.entryIds)
    expect(followUp.repaired?.from).toBe(A)
  })
})
