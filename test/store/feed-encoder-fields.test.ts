import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { newFeedState } from '../../node/store/feed-state.ts'
import { feedTag } from '../../node/store/format/key-layout.ts'
import { FeedEncoder } from '../../node/store/write/feed-encoder.ts'
import type { PlainSink } from '../../node/store/write/write-chain.ts'
import { makeEvent, makeSigner, makeStoreKeys } from '../helpers/fixtures.ts'

const A = makeSigner('hospital-a')

/** A sink that keeps the records, to compare two encodings. */
function collect(): PlainSink & { records: string[] } {
  const records: string[] = []
  return {
    records,
    putPlain: (key, plain) => {
      records.push(`${key.toString('hex')}=${Buffer.from(plain).toString('hex')}`)
    },
    putKeyOnly: (key) => {
      records.push(`${key.toString('hex')}=`)
    },
  }
}

describe('FeedEncoder: what a batch keeps of its events until the write', () => {
  it('keeps patientId, actorId and time of each event, never the body and its original', () => {
    const xml = Buffer.from('<AuditMessage>one message</AuditMessage>')
    const events = Array.from({ length: 5 }, (_, i) =>
      makeEvent(i, {
        original: xml.toString('base64'),
        originalSha256: createHash('sha256').update(xml).digest('hex'),
      }),
    )
    const keys = makeStoreKeys()
    const origin = new FeedEncoder(keys.indexKey)
    const own = newFeedState(A.origin, feedTag(keys.indexKey, A.origin))
    const appended = origin.encodeAppend(
      collect(),
      own,
      A,
      events.map((body) => ({ kind: 'event' as const, body })),
      new Date(),
      [],
    )
    const replica = new FeedEncoder(keys.indexKey)
    const feed = newFeedState(A.origin, feedTag(keys.indexKey, A.origin))
    const sink = collect()
    const accepted = replica.encodeAccepted(sink, feed, {
      origin: A.origin,
      entries: appended.entryBytes,
      head: appended.head,
    })
    for (const batch of [appended, accepted]) {
      expect(batch.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      batch.events.forEach(({ event }, i) => {
        expect(event).toEqual({
          patientId: events[i]!.patientId,
          actorId: events[i]!.actorId,
          time: events[i]!.time,
        })
        expect(Object.keys(event)).not.toContain('original')
      })
    }
    // The same postings either way (the indexes read only these fields).
    const again = collect()
    new FeedEncoder(keys.indexKey).encodeAppend(
      again,
      newFeedState(A.origin, feedTag(keys.indexKey, A.origin)),
      A,
      events.map((body) => ({ kind: 'event' as const, body })),
      new Date(Date.parse(JSON.parse(Buffer.from(appended.entryBytes[0]!).toString()).recorded)),
      [],
    )
    expect(again.records).toEqual(sink.records)
  })
})
