import { cp, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SPOOL_FOLDERS } from '../../node/alerts/spool.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { type Member, useLocalNetworks } from './harness.ts'
import { appendEvents, feedSizes, getStatus, postEvents, waitForSizes } from './node-api.ts'
import { expectIdenticalVerifiedReplicas } from './replicas.ts'

/** Files in the member's alert spool (outbox, queue, sent, ...): any is an alert raised. */
async function alertFiles(m: Member): Promise<string[]> {
  const found: string[] = []
  for (const folder of SPOOL_FOLDERS) {
    const names = await readdir(join(m.dir, 'alerts', folder)).catch(() => [])
    found.push(...names.map((n) => `${folder}/${n}`))
  }
  return found
}

async function postPending(m: Member, i: number, key?: string): Promise<string[]> {
  const res = await postEvents(m, [makeEvent(i)], key === undefined ? {} : { key })
  const text = await res.text()
  expect(res.status, `POST to ${m.name}: ${text}`).toBe(202)
  const body = JSON.parse(text) as { pending: boolean; pendingIds: string[] }
  expect(body.pending).toBe(true)
  expect(body.pendingIds).toHaveLength(1)
  return body.pendingIds
}

describe('a node started on a restored store', () => {
  const createNetwork = useLocalNetworks()

  it('signs nothing onto the old tip while the members are away, then sequences what it took', async () => {
    const net = await createNetwork({ nodes: 3, fileIndex: 4, args: ['--sync-interval', '1000'] })
    await Promise.all(net.members.map((m) => net.start(m.name)))
    const [a, b, c] = net.members as [Member, Member, Member]

    // Two events, then a backup of hospital-c's store (taken with the node stopped).
    const before = [...(await appendEvents(c, [makeEvent(1), makeEvent(2)]))]
    await waitForSizes([a, b, c], new Map([['hospital-c', 2]]), 10_000)
    await net.stop('hospital-c')
    const backup = join(net.root, 'backup-db')
    await cp(join(c.dir, 'db'), backup, { recursive: true })
    await net.start('hospital-c')
    before.push(...(await appendEvents(c, [makeEvent(3), makeEvent(4), makeEvent(5)])))
    await waitForSizes([a, b, c], new Map([['hospital-c', 5]]), 10_000)
    await net.stopAll()

    // The restore: hospital-c's store goes back to two entries; the others stay down.
    await rm(join(c.dir, 'db'), { recursive: true, force: true })
    await cp(backup, join(c.dir, 'db'), { recursive: true })
    await net.start('hospital-c')
    const pendingKeyed = await postPending(c, 6, 'after-restore-1')
    await postPending(c, 7)
    // Nothing signed: the feed is still the backup's two entries; status says why.
    expect((await feedSizes(c)).get('hospital-c')).toBe(2)
    expect((await getStatus(c)) as unknown).toMatchObject({
      ownFeed: {
        fenced: true,
        waitingFor: expect.stringMatching(/confirmed by 0 of the 1 other members needed/),
        pendingEvents: 2,
      },
    })

    // A crash while events are pending loses none of them.
    await net.kill('hospital-c')
    await net.start('hospital-c')
    const retried = await postEvents(c, [makeEvent(6)], { key: 'after-restore-1' })
    expect(retried.status).toBe(202)
    expect(((await retried.json()) as { pendingIds: string[] }).pendingIds).toEqual(pendingKeyed)
    expect((await feedSizes(c)).get('hospital-c')).toBe(2)

    // The members come back: hospital-c pulls its entries 3..5 back, then appends 6 and 7.
    await Promise.all([net.start('hospital-a'), net.start('hospital-b')])
    await waitForSizes([a, b, c], new Map([['hospital-c', 7]]), 30_000)
    const sequenced = await postEvents(c, [makeEvent(6)], { key: 'after-restore-1' })
    expect(sequenced.status).toBe(200)
    expect(((await sequenced.json()) as { ids: string[] }).ids).toEqual(['hospital-c:6'])
    // And new events go straight to the feed again.
    expect(await appendEvents(c, [makeEvent(8)])).toEqual(['hospital-c:8'])
    await waitForSizes([a, b, c], new Map([['hospital-c', 8]]), 10_000)

    await net.stopAll()
    const replica = await expectIdenticalVerifiedReplicas(net.members)
    const notes = replica.filter((e) => e.id.startsWith('hospital-c:')).map((e) => e.body.notes)
    // Every event acknowledged before and after the restore, each exactly once, in order.
    expect(notes).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `note number ${i}`))
    expect(before).toEqual([
      'hospital-c:1',
      'hospital-c:2',
      'hospital-c:3',
      'hospital-c:4',
      'hospital-c:5',
    ])
    for (const m of net.members) expect(await alertFiles(m), `alerts of ${m.name}`).toEqual([])
  }, 180_000)
})
