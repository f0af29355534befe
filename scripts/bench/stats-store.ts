// A period's `counters` entry over a real store (issue 18's "time to produce a period's stats
// entry over 1M events"): STATS_STORE_ENTRIES (default 1,000,000) seed-shaped events appended
// to a LevelDB LogStore in batches of 1,000, all recorded in one day; then, timed, what the
// node does when the day has ended: FeedScan reads every entry of the feed from the store
// (decrypting each value) and counts it, the owed period's counts come out, and the vector is
// encrypted and written as the entry's hex body. Seeding is not timed.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  COUNTER_COUNT,
  countersHex,
  encryptCounters,
  type GroupPoint,
} from '../../node/core/stats/index.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { FeedScan } from '../../node/stats/feed-scan.ts'
import { LogStore } from '../../node/store/index.ts'
import type { Figure } from './report.ts'
import { seedEvent } from './seed-events.ts'

const BATCH = 1000

export async function benchPeriodEntryFromStore(y: GroupPoint): Promise<Figure[]> {
  const entries = Number(process.env.STATS_STORE_ENTRIES ?? 1_000_000)
  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-bench-stats-'))
  const { privateKey } = generateKeyPairSync('ed25519')
  const signer = { origin: 'hospital-a', privateKey }
  const publicKey = ed25519RawPublicKey(privateKey)
  const store = new LogStore({
    path: join(dir, 'store'),
    keys: { valueKey: randomBytes(32), indexKey: randomBytes(32) },
    originKey: () => publicKey,
    sync: false,
  })
  try {
    await store.open()
    const day = Date.UTC(2026, 10, 3)
    // Spread over 2026-11-03: batch b is recorded at b × (86 400 s / batches).
    const step = Math.floor(86_400_000 / Math.ceil(entries / BATCH))
    const seedStart = performance.now()
    let inFlight: Promise<unknown> = Promise.resolve()
    for (let done = 0, b = 0; done < entries; done += BATCH, b++) {
      const events = Array.from({ length: Math.min(BATCH, entries - done) }, (_, j) =>
        seedEvent(done + j, `patient-${(done + j) % 1000}`),
      )
      const write = store.appendEvents(signer, events, new Date(day + b * step))
      await inFlight
      inFlight = write
    }
    await inFlight
    const seedMs = performance.now() - seedStart
    const start = performance.now()
    const scan = new FeedScan(store, 'day')
    await scan.scan()
    const scanned = performance.now()
    const owed = scan.owedPeriods('hospital-a', day + 2 * 86_400_000)
    const [period, counts] = owed[0]!
    const hex = countersHex(encryptCounters(y, new Uint8Array(32), 'hospital-a', period, counts))
    const ms = performance.now() - start
    const total = counts.reduce((a, b) => a + b, 0)
    if (owed.length !== 1 || total === 0 || hex.length !== COUNTER_COUNT * 128)
      throw new Error(`counted ${total} of ${entries} events in ${owed.length} period(s)`)
    return [
      {
        name: `a period's stats entry from a ${entries.toLocaleString('en')}-entry LevelDB store: read + count + encrypt`,
        value: ms,
        unit: 'ms',
        note: `FeedScan over the store ${(scanned - start).toFixed(0)} ms, encrypt ${(ms - (scanned - start)).toFixed(0)} ms; ${total} counts in ${period}; seeding (not timed) ${(seedMs / 1000).toFixed(0)} s`,
      },
    ]
  } finally {
    await store.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}
