import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { entryKey } from '../../node/store/format/key-layout.ts'
import { encodeEntryRecord } from '../../node/store/format/records.ts'
import { ValueCipher } from '../../node/store/format/value-cipher.ts'
import { CheckPool } from '../../node/store/verify/check-pool.ts'
import {
  checkRecords,
  RECORD_FOREIGN,
  RECORD_MISPLACED,
  RECORD_OK,
  RECORD_UNDECRYPTABLE,
} from '../../node/store/verify/record-check.ts'
import { makeEvent } from '../helpers/fixtures.ts'

/** Sealed entry records of hospital-a, seqs 1..n, each with one made-up tree node. */
function records(cipher: ValueCipher, n: number): Array<[Buffer, Buffer]> {
  const tag = randomBytes(8)
  const out: Array<[Buffer, Buffer]> = []
  let prev: Uint8Array | undefined
  for (let seq = 1; seq <= n; seq++) {
    const e = makeEntry('hospital-a', seq, prev, 'event', makeEvent(seq), new Date())
    const key = entryKey(tag, seq)
    out.push([key, cipher.seal(key, encodeEntryRecord([randomBytes(32)], e.bytes))])
    prev = e.hash
  }
  return out
}

describe('CheckPool', () => {
  it('checks records on a worker thread exactly as inline checking does', async () => {
    const valueKey = randomBytes(32)
    const cipher = new ValueCipher(valueKey)
    const recs = records(cipher, 50)
    recs[3]![1][40]! ^= 1 // a changed byte
    recs[7]![1] = recs[8]![1] // a value moved to another key
    const foreign = records(cipher, 1)[0]!
    const pool = new CheckPool(1, valueKey)
    try {
      const onWorker = await pool.check('hospital-a', recs)
      const inline = checkRecords(cipher, 'hospital-a', recs)
      expect(onWorker).toEqual(inline)
      expect(onWorker.state[0]).toBe(RECORD_OK)
      expect(onWorker.hasPrev[0]).toBe(0)
      expect(onWorker.hasPrev[1]).toBe(1)
      expect(onWorker.state[3]).toBe(RECORD_UNDECRYPTABLE)
      expect(onWorker.state[7]).toBe(RECORD_UNDECRYPTABLE)
      expect(onWorker.nodeEnds[49]).toBe(48) // one node per authentic record
      // An insider's re-encrypted copies: an entry at another seq, another origin's entry.
      const plain = cipher.open(recs[10]![0], recs[10]![1])!
      const misplaced: [Buffer, Buffer] = [recs[11]![0], cipher.seal(recs[11]![0], plain)]
      const other = cipher.open(foreign[0], foreign[1])!
      const text = Buffer.from(other).toString('utf8').replace('"hospital-a"', '"hospital-b"')
      const foreignRec: [Buffer, Buffer] = [
        recs[0]![0],
        cipher.seal(recs[0]![0], Buffer.from(text)),
      ]
      const more = await pool.check('hospital-a', [misplaced, foreignRec])
      expect([...more.state]).toEqual([RECORD_MISPLACED, RECORD_FOREIGN])
      expect(more.claimedSeq[0]).toBe(11)
    } finally {
      await pool.close()
    }
    // A closed (or failed) pool refuses work, so that verify checks inline instead.
    await expect(pool.check('hospital-a', recs)).rejects.toThrow()
  })
})
