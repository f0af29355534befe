import { describe, expect, it } from 'vitest'
import { eventsOfAuditMessage } from '../../node/atna/audit-message.ts'
import { type EncodedEntry, type Entry, encodeEntry, makeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { hashLeaf, MemoryTree } from '../../node/core/merkle/index.ts'
import { signTreeHead } from '../../node/core/tree-head.ts'
import type { FeedBatch } from '../../node/store/index.ts'
import { message } from '../../scripts/bench/syslog-load.ts'
import { makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

// A replica's checks of a gossiped batch, each on its own: every batch below is signed by its
// origin's key over the root of exactly the bytes it carries, so the one fault in it is the
// only reason to refuse it. The events are the syslog benchmark's (an ATNA message mapped,
// with its `original` in base64), the shape the replica's fast paths are tuned for.

const B = makeSigner('hospital-b')
const A = makeSigner('hospital-a')

function atnaEvent(i: number): Record<string, unknown> {
  const frame = message(i, `PAT-${100_000 + i}`)
  return { ...eventsOfAuditMessage(frame.subarray(frame.indexOf('<?xml')))[0]! }
}

/** An entry of raw bytes (not necessarily canonical), with their leaf hash. */
function raw(text: string): EncodedEntry {
  const bytes = new TextEncoder().encode(text)
  return { entry: JSON.parse(text) as Entry, bytes, hash: hashLeaf(bytes) }
}

function signed(entries: EncodedEntry[], signer = B, root?: Uint8Array): FeedBatch {
  const tree = new MemoryTree(entries.map((e) => e.hash))
  return {
    origin: 'hospital-b',
    entries: entries.map((e) => e.bytes),
    head: signTreeHead(signer.privateKey, 'hospital-b', entries.length, root ?? tree.root()),
  }
}

/** Three good entries, the third made by `last` from the second's hash. */
function feed(last: (prev: Uint8Array) => EncodedEntry): EncodedEntry[] {
  const recorded = '2026-12-06T11:00:00.000Z'
  const e1 = makeEntry('hospital-b', 1, undefined, 'event', atnaEvent(1), recorded)
  const e2 = makeEntry('hospital-b', 2, e1.hash, 'event', atnaEvent(2), recorded)
  return [e1, e2, last(e2.hash)]
}

/** The canonical text of entry 3 (a good one), for respelling. */
function third(prev: Uint8Array, body: Record<string, unknown> = atnaEvent(3)): string {
  const e = makeEntry('hospital-b', 3, prev, 'event', body, '2026-12-06T11:00:00.000Z')
  return new TextDecoder().decode(e.bytes)
}

describe('a replica refuses each kind of bad batch, and stores nothing of it', () => {
  const tempDir = useTempDirs()

  const cases: Array<[string, RegExp, () => FeedBatch]> = [
    [
      'a needless escape (non-canonical spelling)',
      /canonical form/,
      () => signed(feed((prev) => raw(third(prev).replace('"PAT-', '"PAT\\u002d')))),
    ],
    [
      'whitespace between tokens',
      /canonical form/,
      () => signed(feed((prev) => raw(third(prev).replace('"kind":', '"kind": ')))),
    ],
    [
      'body keys out of order',
      /canonical form/,
      () =>
        signed(
          feed((prev) => {
            const text = third(prev)
            const body = JSON.parse(text).body as Record<string, unknown>
            const { action, ...rest } = body
            return raw(text.replace(JSON.stringify(body), JSON.stringify({ ...rest, action })))
          }),
        ),
    ],
    [
      'a number spelled otherwise',
      /canonical form/,
      () => signed(feed((prev) => raw(third(prev).replace('"seq":3', '"seq":3.0')))),
    ],
    [
      'an entry that is not UTF-8 JSON',
      /UTF-8 JSON/,
      () => signed(feed(() => ({ ...raw('{}'), bytes: Uint8Array.of(0x7b, 0xff, 0x7d) }))),
    ],
    [
      'an envelope field of the wrong form (prev in upper case)',
      /prev/,
      () =>
        signed(
          feed((prev) => {
            const text = third(prev)
            const hex = JSON.parse(text).prev as string
            return raw(text.replace(hex, hex.toUpperCase().replace(/^[0-9]/, 'A')))
          }),
        ),
    ],
    [
      '`original` in base64 that is not canonical (bits set past the data)',
      /original/,
      () =>
        signed(
          feed((prev) => {
            const body = atnaEvent(3)
            // 'QQ==' is canonical (one byte, A); in 'QR==' the last symbol carries a 1 bit
            // past the data, which a decoder drops: a second spelling of the same bytes.
            const symbols = (body.original as string).replace(/=+$/, '')
            body.original = `${symbols.slice(0, symbols.length - (symbols.length % 4))}QR==`
            expect(Buffer.from(body.original as string, 'base64').toString('base64')).not.toBe(
              body.original,
            )
            return raw(third(prev, body))
          }),
        ),
    ],
    [
      '`original` with a character outside base64',
      /original/,
      () =>
        signed(
          feed((prev) => {
            const body = atnaEvent(3)
            body.original = `${(body.original as string).slice(0, 8)}-${(body.original as string).slice(9)}`
            return raw(third(prev, body))
          }),
        ),
    ],
    [
      'an event time not in normal form',
      /time/,
      () =>
        signed(feed((prev) => raw(third(prev, { ...atnaEvent(3), time: '2026-12-01T09:30:00Z' })))),
    ],
    [
      'an event time that is no date (29 February 2026)',
      /time/,
      () =>
        signed(
          feed((prev) => raw(third(prev, { ...atnaEvent(3), time: '2026-02-29T09:30:00.000Z' }))),
        ),
    ],
    [
      'an event with an unknown field',
      /unknown field|entry\.body/,
      () => signed(feed((prev) => raw(third(prev, { ...atnaEvent(3), extra: 'x' })))),
    ],
    [
      'an entry that does not link to the one before',
      /does not link/,
      () => signed(feed(() => raw(third(new Uint8Array(32).fill(9))))),
    ],
    [
      'an entry out of sequence',
      /belongs/,
      () => signed(feed((prev) => raw(third(prev).replace('"seq":3', '"seq":4')))),
    ],
    [
      'a root that is not that of the entries',
      /signed head says/,
      () =>
        signed(
          feed((prev) => raw(third(prev))),
          B,
          new Uint8Array(32).fill(1),
        ),
    ],
    [
      'a head signed by another key',
      /bad signature/,
      () =>
        signed(
          feed((prev) => raw(third(prev))),
          A,
        ),
    ],
  ]

  it.each(cases)('%s', async (_, reason, make) => {
    const replica = openStore(await tempDir(), makeStoreKeys(), [B])
    await replica.open()
    try {
      const err = await replica.acceptBatch(make()).catch((e: unknown) => e)
      expect(isEhrlogError(err), String(err)).toBe(true)
      expect((err as Error).message).toMatch(reason)
      expect(replica.size('hospital-b')).toBe(0)
      // The same feed, all good, is stored: the fault above was the only one.
      const good = signed(feed((prev) => raw(third(prev))))
      expect(await replica.acceptBatch(good)).toEqual({ status: 'stored', treeSize: 3 })
      const stored = await replica.getEntry('hospital-b', 3)
      expect(Buffer.from(stored!.bytes).equals(Buffer.from(good.entries[2]!))).toBe(true)
      expect(encodeEntry(stored!.entry).bytes).toEqual(stored!.bytes)
    } finally {
      await replica.close()
    }
  })
})
