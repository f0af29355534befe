import type { EncodedEntry } from '../core/entry.ts'
import {
  comparePositions,
  filterMismatch,
  type Position,
  type QueryFilter,
} from '../core/trust/index.ts'
import type { EntryRef, LogStore } from '../store/index.ts'

/** What selection reads of the replica. */
export type SelectStore = Pick<
  LogStore,
  'findByPatient' | 'findByActor' | 'findByTime' | 'getEntries' | 'entries' | 'origins'
> & { patientIndex: Pick<LogStore['patientIndex'], 'refsIn'> }

export const SELECT_LIMITS = {
  /** Index references read for one query; past this the query falls back to a scan. */
  maxIndexRefs: 100_000,
  /** Entries one answer may read when no index narrows the query; then it ends with a cursor. */
  scanBudget: 50_000,
  /** About this many bytes of entries and proofs per answer; then it ends with a cursor. */
  maxAnswerBytes: 3 * 2 ** 20,
  /** Entries read from the store per getMany. */
  chunk: 256,
} as const

/** Rough size of an entry in the answer: base64 bytes and a proof of up to 40 hex hashes. */
function answerBytes(e: EncodedEntry): number {
  return Math.ceil(e.bytes.byteLength / 3) * 4 + 40 * 67
}

export interface Selection {
  entries: EncodedEntry[]
  /** Set when the answer stopped early: it holds every match up to here, and no further. */
  through: Position | undefined
}

/**
 * The entries matching `filter` after `after`, in (origin, seq) order, at most `limit`. Uses
 * the most selective index that applies (patient, actor, event time), else scans feeds in
 * order within a budget. Index postings are per feed in key order, not origin order, so the
 * references are sorted here.
 */
export async function selectEntries(
  store: SelectStore,
  filter: QueryFilter,
  after: Position | undefined,
  limit: number,
): Promise<Selection> {
  if (filter.patient !== undefined) {
    const lazily = await selectByPatient(store, filter, after, limit)
    if (lazily) return lazily
  }
  const refs = await indexedRefs(store, filter)
  const page = new Page(limit)
  if (refs) {
    const todo = refs
      .filter(
        (r) =>
          (filter.origin === undefined || r.origin === filter.origin) &&
          (after === undefined || comparePositions(r, after) > 0),
      )
      .sort(comparePositions)
    // Most index hits match the whole filter: read about a page at a time.
    const chunk = Math.min(SELECT_LIMITS.chunk, limit)
    for (let i = 0; i < todo.length; i += chunk) {
      for (const e of await store.getEntries(todo.slice(i, i + chunk)))
        if (page.offer(e, filter)) return page.result()
    }
    return page.result()
  }
  let scanned = 0
  const origins = (filter.origin === undefined ? store.origins() : [filter.origin]).sort()
  for (const origin of origins) {
    if (after && origin < after.origin) continue
    const fromSeq = after?.origin === origin ? after.seq + 1 : 1
    for await (const e of store.entries(origin, fromSeq)) {
      if (page.offer(e, filter)) return page.result()
      if (++scanned >= SELECT_LIMITS.scanBudget) return page.result(e.entry)
    }
  }
  return page.result()
}

/**
 * A patient's entries feed by feed in (origin, seq) order, each feed's postings read only as
 * far as the page needs (store.patientIndex.refsIn): a full page stops the reading, so the
 * postings of entries past it are not read (nor, those of several seqs, decrypted). A
 * patient's trail holds a record of every query of it, so those are most of its postings for
 * a trail read often. Past scanBudget entries read, the page ends with a cursor, as a scan's does.
 * Undefined (the caller reads every posting and sorts, as for other filters) if a feed's
 * postings are not in seq order, which only a damaged or oddly repaired index gives.
 */
async function selectByPatient(
  store: SelectStore,
  filter: QueryFilter,
  after: Position | undefined,
  limit: number,
): Promise<Selection | undefined> {
  const page = new Page(limit)
  const chunk = Math.min(SELECT_LIMITS.chunk, limit)
  let read = 0
  let last: EncodedEntry | undefined
  const origins = (filter.origin === undefined ? store.origins() : [filter.origin]).sort()
  for (const origin of origins) {
    if (after && origin < after.origin) continue
    const fromSeq = after?.origin === origin ? after.seq + 1 : 1
    const todo: EntryRef[] = []
    let previous = 0
    /** Reads `todo`; true when the page is full or the budget is spent. */
    /**
     * Reads `todo`, no more of it at a time than the page has room for: when every entry
     * matches, none is read (and decrypted) past the page's end.
     */
    const readTodo = async (): Promise<boolean> => {
      while (todo.length > 0) {
        const entries = await store.getEntries(todo.splice(0, page.room))
        for (const e of entries) {
          last = e
          read++
          if (page.offer(e, filter) || read >= SELECT_LIMITS.scanBudget) return true
        }
      }
      return false
    }
    for await (const refs of store.patientIndex.refsIn(filter.patient!, origin, fromSeq)) {
      for (const r of refs) {
        if (r.seq <= previous) return undefined
        previous = r.seq
        if (r.seq >= fromSeq) todo.push(r)
      }
      if (todo.length >= chunk && (await readTodo())) return resultOf(page, read, last)
    }
    if (todo.length > 0 && (await readTodo())) return resultOf(page, read, last)
  }
  return page.result()
}

/** A full page ends at its last entry; a spent budget at the last entry read. */
function resultOf(page: Page, read: number, last: EncodedEntry | undefined): Selection {
  return page.full || read < SELECT_LIMITS.scanBudget ? page.result() : page.result(last?.entry)
}

class Page {
  readonly #entries: EncodedEntry[] = []
  readonly #limit: number
  #bytes = 0
  #full = false

  constructor(limit: number) {
    this.#limit = limit
  }

  get full(): boolean {
    return this.#full
  }

  /** Entries the page still takes (at least 1). */
  get room(): number {
    return Math.max(1, this.#limit - this.#entries.length)
  }

  /** Adds `e` if it matches; true when the page is full. */
  offer(e: EncodedEntry, filter: QueryFilter): boolean {
    if (filterMismatch(e.entry, filter) !== undefined) return false
    this.#entries.push(e)
    this.#bytes += answerBytes(e)
    this.#full = this.#entries.length >= this.#limit || this.#bytes >= SELECT_LIMITS.maxAnswerBytes
    return this.#full
  }

  /** `scannedTo`: where a scan that ran out of budget stopped. */
  result(scannedTo?: Position): Selection {
    const last = this.#entries.at(-1)?.entry
    const through = scannedTo ?? (this.#full ? last : undefined)
    return {
      entries: this.#entries,
      through: through && { origin: through.origin, seq: through.seq },
    }
  }
}

/** References from the most selective index for the filter; undefined: scan instead. */
async function indexedRefs(
  store: SelectStore,
  filter: QueryFilter,
): Promise<EntryRef[] | undefined> {
  const max = SELECT_LIMITS.maxIndexRefs + 1
  let refs: EntryRef[]
  if (filter.patient !== undefined) refs = await store.findByPatient(filter.patient, max)
  else if (filter.actor !== undefined) refs = await store.findByActor(filter.actor, max)
  else if (filter.from !== undefined || filter.to !== undefined) {
    const fromMs = filter.from === undefined ? 0 : Date.parse(filter.from)
    const toMs = filter.to === undefined ? Date.UTC(10000, 0) : Date.parse(filter.to)
    refs = await store.findByTime(fromMs, toMs, max)
  } else return undefined
  return refs.length > SELECT_LIMITS.maxIndexRefs ? undefined : refs
}
