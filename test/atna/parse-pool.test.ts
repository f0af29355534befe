// The parse threads (node/atna/parse-pool.ts) on a real worker thread: the same answers as
// parsing inline, one lane's batches answered in order, and inline parsing once closed.
import { describe, expect, it } from 'vitest'
import { ParsePool } from '../../node/atna/index.ts'
import { parseFrames } from '../../node/atna/parse-frames.ts'
import { DICOM_PATIENT_RECORD, RFC3881_QUERY, syslogOf, XML_BOMB } from './messages.ts'

const frames = [
  syslogOf(DICOM_PATIENT_RECORD),
  Buffer.from('not syslog'),
  syslogOf(RFC3881_QUERY),
  syslogOf(XML_BOMB),
  syslogOf('<AuditMessage><EventIdentification/></AuditMessage>'),
]

describe('syslog parse threads', () => {
  it('answer as parsing inline does: events for good frames, the refusal for bad ones', async () => {
    const pool = new ParsePool(1)
    try {
      const onThread = await pool.parse(frames, 0)
      expect(pool.batchesOnThreads).toBe(1)
      expect(onThread).toEqual(parseFrames(frames))
      expect(onThread.map((p) => ('events' in p ? p.events.length : p.refused.code))).toEqual([
        1,
        'MESSAGE_INVALID',
        2,
        'MESSAGE_INVALID',
        'MESSAGE_INVALID',
      ])
    } finally {
      await pool.close()
    }
  })

  it("answers one lane's batches in the order they were posted", async () => {
    const pool = new ParsePool(2)
    try {
      const order: number[] = []
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          // Batches of different sizes, so a later one could finish first if order were not kept.
          const batch = Array.from({ length: 1 + ((i * 7) % 13) }, () => frames[0]!)
          return pool.parse(batch, 3).then(() => order.push(i))
        }),
      )
      expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i))
      expect(pool.batchesOnThreads).toBe(40)
    } finally {
      await pool.close()
    }
  })

  it('parses inline once closed (or with 0 threads): a lost thread costs speed, not messages', async () => {
    const pool = new ParsePool(1)
    pool.start()
    await pool.close()
    expect(await pool.parse(frames, 0)).toEqual(parseFrames(frames))
    expect(pool.batchesOnThreads).toBe(0)
    expect(await new ParsePool(0).parse(frames, 0)).toEqual(parseFrames(frames))
  })
})
