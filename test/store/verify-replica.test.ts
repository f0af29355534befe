import { generateKeyPairSync } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import type { LogStore, Problem, StoreKeys, VerifyReport } from '../../node/store/index.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')
const B = makeSigner('hospital-b')
const signers = [A, B]

function entryIds(report: VerifyReport): string[] {
  return report.problems.flatMap((p) => (p.entryId ? [p.entryId] : [])).sort()
}

function kinds(report: VerifyReport): Problem['kind'][] {
  return report.problems.map((p) => p.kind)
}

// threads 0 checks entries on the test's thread; 1 on a worker thread (check-pool.ts), the
// path large stores take: both must name exactly the same problems.
describe.each([0, 1])(
  'verifyReplica (threads: %i) names exactly the damaged entries',
  (threads) => {
    const tempDir = useTempDirs()
    let path: string
    let keys: StoreKeys

    // hospital-a: 3 batches of 10 (heads at 10, 20, 30); hospital-b: a replica of 2 batches of 5.
    beforeEach(async () => {
      path = await tempDir()
      keys = makeStoreKeys()
      const other = openStore(await tempDir(), makeStoreKeys(), signers)
      await other.open()
      const store = openStore(path, keys, signers)
      await store.open()
      for (let b = 0; b < 3; b++) {
        await store.appendEvents(
          A,
          Array.from({ length: 10 }, (_, i) => makeEvent(b * 10 + i)),
        )
      }
      for (let b = 0; b < 2; b++) {
        const { entries, head } = await other.appendEvents(
          B,
          Array.from({ length: 5 }, (_, i) => makeEvent(i)),
        )
        await store.acceptBatch({
          origin: 'hospital-b',
          entries: entries.map((e) => e.bytes),
          head,
        })
      }
      await other.close()
      await store.close()
    })

    async function tamper(fn: (t: Tamperer) => Promise<unknown>): Promise<void> {
      const t = new Tamperer(path, keys, 'hospital-a')
      await t.open()
      await fn(t)
      await t.close()
    }

    async function verify(opts: Parameters<LogStore['verify']>[0] = {}): Promise<VerifyReport> {
      const store = openStore(path, keys, signers)
      await store.open()
      try {
        return await store.verify({ threads, ...opts })
      } finally {
        await store.close()
      }
    }

    it('finds nothing wrong with an untouched replica', async () => {
      const report = await verify()
      expect(report.ok).toBe(true)
      expect(report.problems).toEqual([])
      expect(report.entriesChecked).toBe(40)
      expect(report.feeds.map((f) => [f.origin, f.entries, f.signedSize, f.rootsChecked])).toEqual([
        ['hospital-a', 30, 30, true],
        ['hospital-b', 10, 10, true],
      ])
    })

    it('value bytes flipped: modified', async () => {
      await tamper((t) => t.flipByte(12))
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:12'])
      expect(kinds(report)).toEqual(['modified'])
    })

    it('entry deleted: deleted, with the hash a repair must restore', async () => {
      const before = await verify()
      expect(before.ok).toBe(true)
      await tamper((t) => t.deleteEntry(12))
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:12'])
      expect(kinds(report)).toEqual(['deleted'])
      expect(report.problems[0]!.expectedHash).toMatch(/^[0-9a-f]{64}$/)
    })

    it('entry inserted after the tail: inserted', async () => {
      await tamper((t) => t.insertAfterTail(31, 'hospital-a', makeEvent(99)))
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:31'])
      expect(kinds(report)).toEqual(['inserted'])
    })

    it('two entries swapped by an insider with the store keys: reordered', async () => {
      await tamper((t) => t.swap(5, 17))
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:17', 'hospital-a:5'])
      expect(kinds(report)).toEqual(['reordered', 'reordered'])
    })

    it('two values swapped without the keys: both fail authentication', async () => {
      await tamper(async (t) => {
        const { entryKey, feedTag } = await import('../../node/store/format/key-layout.ts')
        const tag = feedTag(keys.indexKey, 'hospital-a')
        const [a, b] = [await t.db.get(entryKey(tag, 3)), await t.db.get(entryKey(tag, 4))]
        await t.db.put(entryKey(tag, 3), b!)
        await t.db.put(entryKey(tag, 4), a!)
      })
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:3', 'hospital-a:4'])
      expect(kinds(report)).toEqual(['modified', 'modified'])
    })

    it('tail truncated below the signed head: truncated', async () => {
      await tamper((t) => t.truncate(26, false))
      const report = await verify()
      expect(entryIds(report)).toEqual(['26', '27', '28', '29', '30'].map((s) => `hospital-a:${s}`))
      expect(new Set(kinds(report))).toEqual(new Set(['truncated']))
    })

    it('tail and heads rolled back: only a known tree head reveals it', async () => {
      const store = openStore(path, keys, signers)
      await store.open()
      const known = new Map([
        ['hospital-a', { treeSize: 30, root: await store.rootAt('hospital-a', 30) }],
      ])
      await store.close()
      await tamper((t) => t.truncate(21, true))
      expect((await verify()).ok).toBe(true) // looks whole on its own: why checkpoints exist
      const report = await verify({ knownHeads: known })
      expect(entryIds(report)).toEqual(
        Array.from({ length: 10 }, (_, i) => `hospital-a:${21 + i}`).sort(),
      )
      expect(new Set(kinds(report))).toEqual(new Set(['truncated']))
    })

    it('entry rewritten and heads re-signed with a wrong key: the entry and the forged heads', async () => {
      const { privateKey: wrongKey } = generateKeyPairSync('ed25519')
      let resigned = 0
      await tamper(async (t) => {
        await t.rewriteNotes(15, 'nothing happened here')
        resigned = await t.resignHeads('hospital-a', 15, wrongKey)
      })
      expect(resigned).toBe(2)
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:15'])
      expect(
        report.problems.filter((p) => p.kind === 'bad-signature').map((p) => p.treeSize),
      ).toEqual([20, 30])
      expect(report.problems).toHaveLength(3)
    })

    it('the last entry rewritten by an insider: caught by the signed root', async () => {
      await tamper((t) => t.rewriteNotes(30, 'edited'))
      const report = await verify()
      expect(entryIds(report)).toEqual(['hospital-a:30'])
      expect(kinds(report)).toEqual(['modified'])
    })

    it('reports progress and keeps the other feed clean', async () => {
      await tamper((t) => t.flipByte(1))
      const seen: number[] = []
      const report = await verify({ onProgress: (n) => seen.push(n) })
      expect(seen.at(-1)).toBe(40)
      expect(report.problems.every((p) => p.origin === 'hospital-a')).toBe(true)
    })
  },
)

describe('verifyReplica while appends land', () => {
  const tempDir = useTempDirs()

  it('reads one snapshot: entries and heads appended meanwhile are neither damage nor missing', async () => {
    const store = openStore(`${await tempDir()}/db`, makeStoreKeys(), signers)
    await store.open()
    const batch = (b: number) => Array.from({ length: 20 }, (_, i) => makeEvent(b * 20 + i))
    for (let b = 0; b < 200; b++) await store.appendEvents(A, batch(b))
    let appending = true
    let appended = 0
    const appender = (async () => {
      for (let b = 200; appending; b++) {
        await store.appendEvents(A, batch(b))
        appended++
      }
    })()
    const reports: VerifyReport[] = []
    // Inline and with workers: every report sees whole batches only.
    for (const threads of [0, 1, 0, 1]) reports.push(await store.verify({ threads }))
    appending = false
    await appender
    expect(appended).toBeGreaterThan(0) // appends did land during the verifies
    for (const report of reports) {
      expect(report.problems, JSON.stringify(report.problems.slice(0, 3))).toEqual([])
      expect(report.entriesChecked % 20).toBe(0)
    }
    expect((await store.verify()).entriesChecked).toBe((200 + appended) * 20)
    await store.close()
  })
})
