// The FHIR AuditEvent search (ITI-81, GET /fhir/AuditEvent?entity.identifier=…&_count=100) on
// the query benchmark's kept store (QUERY_STORE_DIR, built by scripts/bench/query.ts: 1M
// entries over three feeds, a 100-entry trail): FHIR_SEARCHES searches (default 300; the first
// 10% dropped), each mapped (parseFhirSearch), answered (QueryService.answerAs: select, prove,
// record the search durably in a fourth feed) and written as a searchset Bundle with every
// proof, serialized. Reports wall p50/p90/p99, CPU p50/p99 and the load average sampled every
// second during the searches, and the AES-GCM opens per search (calls of node:crypto's
// createDecipheriv, counted by wrapping it before the store is loaded: every stored value is
// opened with one). Each search adds one record to the patient's trail (the search itself),
// so a run leaves the store with N more; copy the store first to compare runs on one state.
// TREE_CACHE_MIN_LEVEL sets the tree cache's floor (default 4).
import { decipherOpens } from './decipher-count.ts'

const { loadavg } = await import('node:os')
await import('../../node/shim.ts')
const { toSearchBundle } = await import('../../node/api/fhir-search-bundle.ts')
const { groupParams, parseFhirSearch } = await import('../../node/core/fhir/search-params.ts')
const { IngestQueue, OwnFeed } = await import('../../node/ingest/index.ts')
const { silentLogger } = await import('../../node/logger.ts')
const { printFigures } = await import('./report.ts')
const { KEPT_FEEDS, keptQueryService, openKeptStore } = await import('./kept-query-service.ts')

const dir = process.env.QUERY_STORE_DIR
if (!dir) throw new Error('set QUERY_STORE_DIR to a store kept by scripts/bench/query.ts')
const N = Number(process.env.FHIR_SEARCHES ?? 300)
const FEEDS = KEPT_FEEDS
const { store, index, signers } = await openKeptStore(dir, {
  ...(process.env.TREE_CACHE_MIN_LEVEL
    ? { treeCache: { minLevel: Number(process.env.TREE_CACHE_MIN_LEVEL) } }
    : {}),
})
try {
  const ingest = new IngestQueue({
    store,
    feed: new OwnFeed({
      store,
      signer: signers[3]!,
      gossip: { publish: () => {} },
      logger: silentLogger(),
    }),
  })
  const { service, session } = await keptQueryService({
    store,
    index,
    feeds: FEEDS,
    record: (event) => ingest.submit([event]).then(() => undefined),
  })
  const base = 'http://127.0.0.1:7401/fhir'
  const search = 'entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|patient-target&_count=100'
  const wall: number[] = []
  const cpu: number[] = []
  const opened: number[] = []
  const loads: number[] = [loadavg()[0]!]
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 1000)
  for (let i = 0; i < N; i++) {
    const o = decipherOpens()
    const c = process.cpuUsage()
    const t = performance.now()
    const parsed = parseFhirSearch(groupParams(new URLSearchParams(search)))
    const answer = await service.answerAs(session, {
      filter: parsed.filter,
      ...(parsed.count === undefined ? {} : { limit: parsed.count }),
      via: 'http',
    })
    const bundle = toSearchBundle(
      answer,
      { self: `${base}/AuditEvent?${search}` },
      { baseUrl: base, firstPage: true },
    )
    JSON.stringify(bundle)
    wall.push(performance.now() - t)
    const u = process.cpuUsage(c)
    cpu.push((u.user + u.system) / 1000)
    opened.push(decipherOpens() - o)
    if (answer.entries.length !== 100) throw new Error(`${answer.entries.length} entries`)
  }
  clearInterval(sampler)
  loads.push(loadavg()[0]!)
  const pct = (xs: number[], p: number) => {
    const s = xs.slice(Math.floor(N / 10)).sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
  }
  const p99 = pct(wall, 99)
  const note = `${N - Math.floor(N / 10)} searches counted; 1-min load average ${loads[0]!.toFixed(1)} at start, ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during, ${loads.at(-1)!.toFixed(1)} at end; tree cache floor ${store.treeCache.floor}`
  printFigures('FHIR search on the kept query store', [
    { name: 'FHIR search p50', value: pct(wall, 50), unit: 'ms', note },
    { name: 'FHIR search p90', value: pct(wall, 90), unit: 'ms', note },
    { name: 'FHIR search p99', value: p99, unit: 'ms', target: '< 100', meets: p99 < 100, note },
    { name: 'FHIR search CPU p50', value: pct(cpu, 50), unit: 'ms', note },
    { name: 'FHIR search CPU p99', value: pct(cpu, 99), unit: 'ms', note },
    {
      name: 'AES-GCM opens per search (median)',
      value: pct(opened, 50),
      unit: '',
      note: `first search ${opened[0]}, last ${opened.at(-1)} (the trail grows by one record per search)`,
    },
  ])
} finally {
  await index.close()
  await store.close()
}
