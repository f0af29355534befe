import {
  addToCounters,
  COUNTER_COUNT,
  type PeriodUnit,
  parseStatsEntryBody,
  periodBoundsMs,
  periodOf,
  type StatsEntryBody,
} from '../core/stats/index.ts'
import type { LogStore } from '../store/index.ts'

/** A `counters` entry as read from a feed, with the counts the reader found before it. */
export interface CountersSeen {
  seq: number
  generation: number
  ciphertexts: string
  /** What this node counted in its replica of the feed before the entry, for its period. */
  counts: number[]
  /** Set by the checker: 'ok' or the cells that differ. */
  verdict?: 'ok' | { cells: number[] }
}

type Dealing = Extract<StatsEntryBody, { type: 'dkg-dealing' }>
type KeyBody = Extract<StatsEntryBody, { type: 'dkg-key' }>
type ComplaintBody = Extract<StatsEntryBody, { type: 'dkg-complaint' }>
type AnswerBody = Extract<StatsEntryBody, { type: 'dkg-answer' }>

/** A DKG entry as read: the feed it is in, its seq and the time its origin recorded it. */
export interface DkgEntrySeen<B> {
  origin: string
  seq: number
  recordedMs: number
  body: B
}

/** One generation's key-generation entries, every origin's, in the order read. */
export interface DkgSeen {
  dealings: DkgEntrySeen<Dealing>[]
  complaints: DkgEntrySeen<ComplaintBody>[]
  answers: DkgEntrySeen<AnswerBody>[]
  keys: DkgEntrySeen<KeyBody>[]
}

/**
 * Reads every feed of the replica once, in seq order, keeping what the statistics need: per
 * origin, the counts of each period not yet closed by a `counters` entry, each `counters` entry
 * with the counts found before it (which is what it must encrypt), and the DKG entries. One
 * pass per entry; a restarted node reads the feeds again from the start.
 */
export class FeedScan {
  readonly #cursor = new Map<string, number>()
  readonly #open = new Map<string, Map<string, number[]>>()
  readonly counters = new Map<string, Map<string, CountersSeen>>()
  /** The DKG entries by generation. */
  readonly dkg = new Map<number, DkgSeen>()
  readonly keys = new Map<string, KeyBody[]>()
  /** When each origin recorded its first `dkg-key` entry (ISO time). */
  readonly keyRecorded = new Map<string, string>()

  constructor(
    private readonly store: LogStore,
    private readonly unit: PeriodUnit,
  ) {}

  /** Reads what arrived since the last call, for every origin in the store. */
  async scan(): Promise<void> {
    for (const origin of this.store.origins()) {
      const from = (this.#cursor.get(origin) ?? 0) + 1
      const size = this.store.size(origin)
      if (from > size) continue
      let last = from - 1
      for await (const { entry } of this.store.entries(origin, from, size)) {
        this.#read(origin, entry)
        last = entry.seq
      }
      this.#cursor.set(origin, last)
    }
  }

  #read(
    origin: string,
    entry: { seq: number; kind: string; recorded: string; body: unknown },
  ): void {
    if (entry.kind === 'stats') {
      let body: StatsEntryBody
      try {
        body = parseStatsEntryBody(entry.body)
      } catch {
        return // the store checks bodies on accept; nothing else gets here
      }
      if (body.type === 'counters') {
        const open = this.#open.get(origin)
        const counts = open?.get(body.period) ?? new Array<number>(COUNTER_COUNT).fill(0)
        open?.delete(body.period)
        const byPeriod = this.counters.get(origin) ?? new Map<string, CountersSeen>()
        this.counters.set(origin, byPeriod)
        if (!byPeriod.has(body.period)) {
          byPeriod.set(body.period, {
            seq: entry.seq,
            generation: body.generation,
            ciphertexts: body.ciphertexts,
            counts,
          })
        }
        return
      }
      let g = this.dkg.get(body.generation)
      if (!g) {
        g = { dealings: [], complaints: [], answers: [], keys: [] }
        this.dkg.set(body.generation, g)
      }
      const seen = { origin, seq: entry.seq, recordedMs: Date.parse(entry.recorded) }
      if (body.type === 'dkg-dealing') g.dealings.push({ ...seen, body })
      else if (body.type === 'dkg-complaint') g.complaints.push({ ...seen, body })
      else if (body.type === 'dkg-answer') g.answers.push({ ...seen, body })
      else {
        g.keys.push({ ...seen, body })
        this.keys.set(origin, [...(this.keys.get(origin) ?? []), body])
        if (!this.keyRecorded.has(origin)) this.keyRecorded.set(origin, entry.recorded)
      }
      return
    }
    if (entry.kind !== 'event' && entry.kind !== 'alert') return
    const period = periodOf(entry.recorded, this.unit)
    // Entries of a period already closed (a clock set back) are in no vector: the origin
    // counted only what came before its entry, and so does every checker.
    if (this.counters.get(origin)?.has(period)) return
    const open = this.#open.get(origin) ?? new Map<string, number[]>()
    this.#open.set(origin, open)
    const counts = open.get(period) ?? new Array<number>(COUNTER_COUNT).fill(0)
    open.set(period, counts)
    addToCounters(counts, entry as Parameters<typeof addToCounters>[1])
  }

  /**
   * The periods whose `counters` entry `origin` owes, oldest first, with their counts: those
   * with counted entries, and for hours, days and months also every empty one since the
   * origin recorded its key (so a group total is never blocked by an idle hospital). Minutes
   * and seconds (tests) only when there are entries: an entry a second would be noise.
   */
  owedPeriods(origin: string, untilMs: number): Array<[string, number[]]> {
    const owed = new Map(this.openPeriods(origin))
    const since = this.keyRecorded.get(origin)
    if (since && (this.unit === 'hour' || this.unit === 'day' || this.unit === 'month')) {
      const closed = this.counters.get(origin)
      let period = periodOf(since, this.unit)
      for (let n = 0; n < 100_000; n++) {
        const { end } = periodBoundsMs(period)
        if (end > untilMs) break
        if (!closed?.has(period) && !owed.has(period))
          owed.set(period, new Array<number>(COUNTER_COUNT).fill(0))
        period = periodOf(end, this.unit)
      }
    }
    return [...owed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** The periods of `origin` with counted entries and no `counters` entry yet, oldest first. */
  openPeriods(origin: string): Array<[string, number[]]> {
    return [...(this.#open.get(origin) ?? new Map<string, number[]>())].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )
  }

  /** The generation's DKG entries read so far (empty lists when none). */
  dkgOf(generation: number): DkgSeen {
    return this.dkg.get(generation) ?? { dealings: [], complaints: [], answers: [], keys: [] }
  }

  dealingOf(origin: string, generation: number): Dealing | undefined {
    return this.dkgOf(generation).dealings.find((d) => d.origin === origin)?.body
  }

  keyOf(origin: string, generation: number): KeyBody | undefined {
    return this.dkgOf(generation).keys.find((k) => k.origin === origin)?.body
  }
}
