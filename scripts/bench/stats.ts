// Private network statistics benchmark (issue 18): distributed key generation for 3 and 16
// members, encrypting one hospital's counters for a period, a period's counters entry over 1M
// events (in memory, and read from a 1M-entry LevelDB store: stats-store.ts), building a
// bundle (decryption shares, totals by baby-step giant-step) and verifying it with no secret
// for 16 hospitals × the table's COUNTER_COUNT counters: in this process, and anchored, by the
// real CLI process and in headless Chromium (stats-verify.ts; STATS_BEFORE=DIR compares with
// an older tree). Run: node --import tsx scripts/bench/stats.ts (not part of `npm run bench`);
// STATS_STORE_ENTRIES=0 skips the store figure (seeding 1M entries takes minutes).
import { loadavg } from 'node:os'
import {
  addToCounters,
  assembleStatsBundle,
  COUNTER_COUNT,
  checkShare,
  combineDealings,
  combineShares,
  countersHex,
  type DkgParams,
  deal,
  defaultThreshold,
  encodeStatsBundle,
  encryptCounters,
  G,
  makeDecryptionShare,
  periodOf,
  publicKeyOf,
  smallDiscreteLog,
  statsContext,
  sumVectors,
  verifyStatsBundle,
} from '../../node/core/stats/index.ts'
import { type Figure, printFigures } from './report.ts'
import { benchPeriodEntryFromStore } from './stats-store.ts'
import { benchStatsVerify } from './stats-verify.ts'

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now()
  const value = fn()
  return { ms: performance.now() - start, value }
}

/** One whole key generation in this process: all dealings, every member's checks, combine. */
function dkg(n: number) {
  const params: DkgParams = { n, k: defaultThreshold(n), context: new Uint8Array(32) }
  const dealTimes: number[] = []
  const dealers = Array.from({ length: n }, (_, i) => {
    const t = time(() => deal(params, i + 1))
    dealTimes.push(t.ms)
    return t.value
  })
  const checkTimes: number[] = []
  for (let j = 1; j <= n; j++) {
    const t = time(() => {
      for (const d of dealers) {
        if (!checkShare(params, d.dealing, j, d.shares.get(j)!)) throw new Error('bad share')
      }
    })
    checkTimes.push(t.ms)
  }
  const combined = time(() =>
    combineDealings(
      params,
      dealers.map((d) => d.dealing),
    ),
  )
  const secretShares = new Map<number, Uint8Array>()
  for (let j = 1; j <= n; j++) {
    secretShares.set(j, combineShares(dealers.map((d) => d.shares.get(j)!)))
  }
  return {
    key: combined.value,
    secretShares,
    perMemberMs: median(dealTimes) + median(checkTimes),
    combineMs: combined.ms,
    totalMs:
      dealTimes.reduce((a, b) => a + b, 0) + checkTimes.reduce((a, b) => a + b, 0) + combined.ms,
  }
}

export async function benchStats(): Promise<Figure[]> {
  const figures: Figure[] = []
  const loadAtStart = loadavg()
  const load = loadAtStart.map((l) => l.toFixed(2)).join(' ')
  const table = time(() => smallDiscreteLog(G))
  figures.push({
    name: 'baby-step table (2^16 entries, once per process)',
    value: table.ms,
    unit: 'ms',
  })
  dkg(3) // warm-up: the first run pays for the JIT
  let net16: ReturnType<typeof dkg> | undefined
  for (const n of [3, 16]) {
    const r = dkg(n)
    if (n === 16) net16 = r
    figures.push(
      {
        name: `DKG ${n} members (k=${defaultThreshold(n)}): one member's work`,
        value: r.perMemberMs,
        unit: 'ms',
        note: 'deal + check the n shares it receives; members run in parallel',
      },
      { name: `DKG ${n} members: all of it in one process`, value: r.totalMs, unit: 'ms' },
    )
  }
  const net = net16!
  const y = publicKeyOf(net.key)
  const counts = (h: number) =>
    Array.from({ length: COUNTER_COUNT }, (_, l) => (h * 131 + l * 977) % 5000)
  const encryptTimes = Array.from(
    { length: 5 },
    (_, i) =>
      time(() => encryptCounters(y, new Uint8Array(32), `hospital-${i}`, '2026-11', counts(i))).ms,
  )
  figures.push({
    name: `encrypt one hospital's ${COUNTER_COUNT} counters for a period`,
    value: median(encryptTimes),
    unit: 'ms',
  })

  // A period's stats entry over 1M events: count them as FeedScan does (period of `recorded`,
  // then the cell), then encrypt the vector. The entries are in memory: reading them from
  // LevelDB is the store's cost, measured by its own benchmark.
  const actions = ['read', 'update', 'create', 'query', 'login'] as const
  const resources = ['Observation', 'MedicationRequest', 'Patient', 'Invoice', 'user_notes']
  const events = Array.from({ length: 1_000_000 }, (_, i) => ({
    kind: 'event' as const,
    recorded: new Date(Date.UTC(2026, 10, 3) + i * 80).toISOString(),
    body: {
      action: actions[i % actions.length]!,
      resource: resources[(i >> 3) % resources.length]!,
      outcome: i % 17 === 0 ? 'failure' : 'success',
      ...(i % 101 === 0 ? { detail: 'break-glass' } : {}),
    },
  }))
  const period = time(() => {
    const open = new Map<string, number[]>()
    for (const e of events) {
      const p = periodOf(e.recorded, 'day')
      let c = open.get(p)
      if (!c) {
        c = new Array<number>(COUNTER_COUNT).fill(0)
        open.set(p, c)
      }
      addToCounters(c, e)
    }
    return open
  })
  const dayCounts = [...period.value.values()][0]!
  const entryEncrypt = time(() =>
    countersHex(encryptCounters(y, new Uint8Array(32), 'hospital-a', '2026-11-03', dayCounts)),
  )
  figures.push({
    name: `a period's stats entry over 1M events: count (by day) + encrypt ${COUNTER_COUNT} cells`,
    value: period.ms + entryEncrypt.ms,
    unit: 'ms',
    note: `counting ${period.ms.toFixed(0)} ms, encrypting ${entryEncrypt.ms.toFixed(0)} ms; entries in memory`,
  })
  if (process.env.STATS_STORE_ENTRIES !== '0') figures.push(...(await benchPeriodEntryFromStore(y)))

  const origins = Array.from({ length: 16 }, (_, i) => `hospital-${String(i).padStart(2, '0')}`)
  const hospitals = origins.map((origin, i) => ({
    origin,
    ciphertexts: encryptCounters(y, new Uint8Array(32), origin, '2026-11', counts(i)),
    anchor: new Uint8Array(0),
  }))
  const published = Array.from({ length: COUNTER_COUNT }, (_, l) => l)
  const sum = sumVectors(
    hospitals.map((h) => h.ciphertexts),
    COUNTER_COUNT,
  )
  const context = statsContext('2026-11', net.key, origins, sum, published)
  const members = Array.from({ length: net.key.k }, (_, i) => i + 1)
  const shareTimes: number[] = []
  const shares = members.map((j) => {
    const t = time(() =>
      makeDecryptionShare(
        context,
        j,
        net.secretShares.get(j)!,
        sum.map((c) => c.c1),
      ),
    )
    shareTimes.push(t.ms)
    return t.value
  })
  figures.push({
    name: `one member's decryption share of ${COUNTER_COUNT} cells, with proof`,
    value: median(shareTimes),
    unit: 'ms',
  })
  const assembled = time(() =>
    assembleStatsBundle({ period: '2026-11', key: net.key, hospitals, published, shares }),
  )
  figures.push({
    name: `combine ${members.length} shares and solve ${COUNTER_COUNT} totals (< 80 000 each)`,
    value: assembled.ms,
    unit: 'ms',
  })
  const bytes = encodeStatsBundle(assembled.value)
  // Without anchors, in this process: the figure earlier sessions measured.
  verifyStatsBundle(bytes)
  const verifyTimes = Array.from({ length: 3 }, () => time(() => verifyStatsBundle(bytes)).ms)
  figures.push(
    {
      name: `verify a bundle in this process: 16 hospitals × ${COUNTER_COUNT} counters, ${members.length} shares, no anchors`,
      value: median(verifyTimes),
      unit: 'ms',
      note: `runs ${verifyTimes.map((t) => t.toFixed(0)).join(', ')} ms (warm)`,
    },
    { name: 'bundle size (no anchors)', value: bytes.length, unit: 'bytes' },
  )
  figures.push(...(await benchStatsVerify()))
  figures.push({
    name: 'load average at start (1, 5, 15 min)',
    value: loadAtStart[0]!,
    unit: '',
    note: `${load} at start; ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at end`,
  })
  return figures
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/stats\.(ts|mjs)$/)) {
  printFigures('private statistics', await benchStats())
}
