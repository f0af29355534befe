import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { IntegrityIncident } from '../../node/integrity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { A, B, C, entriesOf, useIntegrityNetwork, waitFor } from './harness.ts'

describe('detection and self-repair with three real nodes', () => {
  const net = useIntegrityNetwork()

  /** The incident `name` reported of `kind` about `origin`, once there is one. */
  async function incidentOn(name: string, kind: string, origin = A): Promise<IntegrityIncident> {
    const started = Date.now()
    await waitFor(`${kind} incident on ${name}`, () =>
      net.incidents(name).some((i) => i.kind === kind && i.origin === origin),
    )
    const incident = net.incidents(name).find((i) => i.kind === kind && i.origin === origin)!
    console.log(`${name}: ${kind} reported in ${Date.now() - started} ms: ${incident.summary}`)
    return incident
  }

  /** The damaged node's replica of A holds exactly the peers' bytes and verifies clean. */
  async function expectRepaired(node: EhrlogNode, peer: EhrlogNode): Promise<void> {
    // A reporting node records each alert in its own feed: let those reach the peer too.
    await waitFor('the peer to hold what the node holds', () =>
      [node, peer].every((n) => n.store.size(A) === node.store.size(A) && !n.store.damageOf(A)),
    )
    const [ours, theirs] = [await entriesOf(node, A), await entriesOf(peer, A)]
    expect(ours.length).toBe(theirs.length)
    for (const [i, e] of ours.entries()) expect(Buffer.compare(e.bytes, theirs[i]!.bytes)).toBe(0)
    const knownHeads = new Map(
      node.checkpoints
        .latest()
        ?.checkpoint.feeds.filter((f) => f.treeSize > 0)
        .map((f) => [f.origin, f]),
    )
    const report = await node.store.verify({ knownHeads })
    expect(report.problems, JSON.stringify(report.problems)).toEqual([])
    expect(node.store.damageOf(A)).toBeUndefined()
  }

  /** `ehrlog verify --dir` on the stopped node: exit 0, intact. */
  async function expectCliVerifyClean(name: string): Promise<void> {
    await net.stop(name)
    const r = await runCli(['verify', '--dir', net.dir(name)])
    expect(r.err).toBe('')
    expect(r.out).toMatch(/intact/)
    expect(r.code).toBe(0)
  }

  it('flipped value bytes: reported as modified with its entry id, restored from a peer', async () => {
    await net.setUp()
    const b = await net.tamperAndRestart(B, A, (t) => t.flipByte(5))
    const incident = await incidentOn(B, 'modified')
    expect(incident.entryIds).toEqual(['hospital-a:5'])
    expect(incident.reportingNode).toBe(B)
    expect(incident.repaired?.entryIds).toEqual(['hospital-a:5'])
    expect([A, C]).toContain(incident.repaired?.from)
    await expectRepaired(b, net.node(C))
    await expectCliVerifyClean(B)
  })

  it('with no peer up, reported unrepaired; repaired and reported again once one is back', async () => {
    await net.setUp()
    await net.stop(A)
    await net.stop(C)
    const b = await net.tamperAndRestart(B, A, (t) => t.deleteEntry(3))
    const first = await incidentOn(B, 'deleted')
    expect(first.entryIds).toEqual(['hospital-a:3'])
    expect(first.repaired).toBeUndefined()
    expect(first.summary).toMatch(/Not repaired yet/)
    await net.start(C)
    await waitFor('the repaired report', () => net.incidents(B).some((i) => i.repaired), 30_000)
    const second = net.incidents(B).find((i) => i.repaired)!
    expect(second).toMatchObject({ kind: 'deleted', entryIds: ['hospital-a:3'] })
    expect(second.repaired).toEqual({ from: C, entryIds: ['hospital-a:3'] })
    expect(second.key).toBe(`${first.key}:repaired`)
    expect(net.incidents(B)).toHaveLength(2)
    await expectRepaired(b, net.node(C))
  }, 60_000)

  it('a deleted entry: reported as deleted, restored byte for byte', async () => {
    await net.setUp()
    const b = await net.tamperAndRestart(B, A, (t) => t.deleteEntry(7))
    const incident = await incidentOn(B, 'deleted')
    expect(incident.entryIds).toEqual(['hospital-a:7'])
    expect(incident.seqFrom).toBe(7)
    expect(incident.seqTo).toBe(7)
    expect(incident.repaired?.entryIds).toEqual(['hospital-a:7'])
    expect(net.incidents(B).filter((i) => i.kind === 'modified')).toEqual([])
    await expectRepaired(b, net.node(A))
    await expectCliVerifyClean(B)
  })

  it('a tail truncated with its heads rolled back: caught against the checkpoint, refilled by sync', async () => {
    await net.setUp()
    await net.checkpoint()
    const b = await net.tamperAndRestart(B, A, (t) => t.truncate(6, true))
    const incident = await incidentOn(B, 'deleted')
    expect(incident.entryIds).toEqual([6, 7, 8, 9, 10, 11, 12].map((s) => `hospital-a:${s}`))
    expect(incident.repaired).toBeDefined()
    expect(b.store.size(A)).toBe(12)
    await expectRepaired(b, net.node(C))
    await expectCliVerifyClean(B)
  })

  it("the origin's own tail rolled back: pulled back from peers before the node takes new events", async () => {
    await net.setUp()
    await net.checkpoint()
    const a = await net.tamperAndRestart(A, A, (t) => t.truncate(9, true))
    // start() returned: the feed is whole again, so the next append cannot fork it.
    expect(a.store.size(A)).toBeGreaterThanOrEqual(12)
    const incident = await incidentOn(A, 'deleted')
    expect(incident.entryIds).toEqual([9, 10, 11, 12].map((s) => `hospital-a:${s}`))
    // The next events follow the authentic 12 (and the alert entry the incident became).
    const { ids } = await a.ingest.submit([makeEvent(99)])
    expect(Number(ids[0]!.split(':')[1])).toBeGreaterThan(12)
    await waitFor('the new batch everywhere', () =>
      [B, C].every((n) => net.node(n).store.size(A) === a.store.size(A)),
    )
    await expectRepaired(a, net.node(B))
    expect(net.incidents(B).concat(net.incidents(C))).toEqual([]) // no fork for anyone to see
    await expectCliVerifyClean(A)
  })

  it("the origin's own tail rolled back while no peer answers: events wait, pending, until peers restore it", async () => {
    await net.setUp()
    await net.checkpoint()
    await net.stop(B)
    await net.stop(C)
    const a = await net.tamperAndRestart(A, A, (t) => t.truncate(9, true), { tailWaitMs: 300 })
    // start() gave up waiting, but the feed is short of what the network cosigned: nothing is
    // signed; the event is durable, pending (the fence: no quorum has told it its tip).
    expect(a.store.size(A)).toBe(8)
    const pending = await a.ingest.submit([makeEvent(99)])
    expect(pending.ids).toEqual([])
    expect(pending.pendingIds).toHaveLength(1)
    // Below the fence, the integrity hold refuses any append (checked before signing: any key).
    const privateKey = generateKeyPairSync('ed25519').privateKey
    await expect(
      a.store.appendEvents({ origin: A, privateKey }, [makeEvent(98)]),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/has 8 entries but the network cosigned 12/),
    })
    expect(a.store.size(A)).toBe(8)
    await net.start(B)
    // The pending event comes after the pulled-back tail (12), exactly once; the node's own
    // records (the alert about the rolled-back tail, say) may come before or after it.
    const pendingSeq = async () => {
      for (let seq = 13; seq <= a.store.size(A); seq++) {
        const body = (await a.store.getEntry(A, seq))?.entry.body as { notes?: string }
        if (body?.notes === 'note number 99') return seq
      }
      return undefined
    }
    await waitFor('the own feed pulled back, then the pending event', async () => {
      return (await pendingSeq()) !== undefined
    })
    let found = 0
    for (let seq = 1; seq <= a.store.size(A); seq++) {
      const body = (await a.store.getEntry(A, seq))?.entry.body as { notes?: string }
      if (body?.notes === 'note number 99') found++
    }
    expect(found).toBe(1)
    const held = (await pendingSeq())!
    const { ids } = await a.ingest.submit([makeEvent(100)])
    expect(ids).toHaveLength(1)
    const seq = Number(ids[0]!.slice(`${A}:`.length))
    expect(seq).toBeGreaterThan(held)
    expect((await a.store.getEntry(A, seq))?.entry.body).toMatchObject({ notes: 'note number 100' })
    await waitFor(
      'the new batch at hospital-b',
      () => net.node(B).store.size(A) === a.store.size(A),
    )
    await expectRepaired(a, net.node(B))
    expect(net.incidents(B)).toEqual([]) // no fork for anyone to see
  })

  it('the last entry flipped (the feed is damaged at open): named before sync can paper over it', async () => {
    await net.setUp()
    const b = await net.tamperAndRestart(B, A, (t) => t.flipByte(12))
    const incident = await incidentOn(B, 'modified')
    expect(incident.entryIds).toEqual(['hospital-a:12'])
    expect(incident.repaired).toBeDefined()
    await expectRepaired(b, net.node(C))
    await expectCliVerifyClean(B)
  })

  it('records no signed head covers are deleted; entries swapped by an insider are restored', async () => {
    await net.setUp()
    const b = await net.tamperAndRestart(B, A, async (t) => {
      await t.insertAfterTail(13, A, makeEvent(13))
      await t.insertAfterTail(14, A, makeEvent(14))
      await t.swap(2, 3)
    })
    const incident = await incidentOn(B, 'modified')
    expect(incident.entryIds).toEqual([
      'hospital-a:2',
      'hospital-a:3',
      'hospital-a:13',
      'hospital-a:14',
    ])
    expect(incident.repaired).toBeDefined()
    await expectRepaired(b, net.node(C))
    await expectCliVerifyClean(B)
  })

  it('an insider rewrites the last entry and re-signs: only the checkpoint shows it', async () => {
    await net.setUp()
    await net.checkpoint()
    const a = await net.tamperAndRestart(A, A, async (t, signingKey) => {
      await t.rewriteNotes(12, 'nothing to see here')
      await t.resignHeads(A, 12, signingKey)
    })
    const incident = await incidentOn(A, 'modified')
    expect(incident.entryIds).toEqual(['hospital-a:12'])
    expect(incident.repaired).toBeDefined()
    await expectRepaired(a, net.node(B))
    await expectCliVerifyClean(A)
  })

  it('an insider rewrites an entry and re-signs with the origin key: repaired on the origin itself', async () => {
    await net.setUp()
    const a = await net.tamperAndRestart(A, A, async (t, signingKey) => {
      await t.rewriteNotes(5, 'nothing to see here')
      expect(await t.resignHeads(A, 5, signingKey)).toBe(2) // heads at 8 and 12
    })
    const incident = await incidentOn(A, 'modified')
    expect(incident.entryIds).toEqual(['hospital-a:5'])
    expect(incident.repaired?.entryIds).toEqual(['hospital-a:5'])
    await expectRepaired(a, net.node(B))
    expect((await a.store.getEntry(A, 5))!.entry.body).toMatchObject({ notes: 'note number 4' })
    // The feed is whole again: the origin appends, and every node takes the batch.
    const { ids } = await a.ingest.submit([makeEvent(99)])
    expect(Number(ids[0]!.split(':')[1])).toBeGreaterThan(12)
    await waitFor('the next batch everywhere', () =>
      [B, C].every((n) => net.node(n).store.size(A) === a.store.size(A)),
    )
    await expectCliVerifyClean(A)
  })
})
