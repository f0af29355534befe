// Every page of a long trail as FHIR searches (GET /fhir/AuditEvent?entity.identifier=…
// &_count=100, then each `next` link's _cursor), on the query benchmark's kept store
// (QUERY_STORE_DIR, built by scripts/bench/query.ts; its target's trail grows by the
// benchmark's own recorded queries, 800 a run). Each page is answered by
// QueryService.answerAs (select, prove; the search's own record is not written here, so the
// store is left as it was and runs on one copy compare) and written as a searchset Bundle with
// every proof, serialized. TRAIL_ROUNDS rounds over all pages (default 5; the first dropped).
// Reports per page: AES-GCM opens (node:crypto's createDecipheriv calls, wrapped before the
// store is loaded: every stored value is opened with one), CPU and wall time; and the first,
// middle and last page's figures. A page's cost should not grow with its place in the trail.
import { decipherOpens } from './decipher-count.ts'

const { loadavg } = await import('node:os')
await import('../../node/shim.ts')
const { toSearchBundle } = await import('../../node/api/fhir-search-bundle.ts')
const { CURSOR_PARAM, groupParams, parseFhirSearch } = await import(
  '../../node/core/fhir/search-params.ts'
)
const { printFigures } = await import('./report.ts')
const { KEPT_FEEDS, keptQueryService, openKeptStore } = await import('./kept-query-service.ts')

const dir = process.env.QUERY_STORE_DIR
if (!dir) throw new Error('set QUERY_STORE_DIR to a store kept by scripts/bench/query.ts')
const ROUNDS = Number(process.env.TRAIL_ROUNDS ?? 5)
if (!Number.isInteger(ROUNDS) || ROUNDS < 2)
  throw new Error(
    'TRAIL_ROUNDS must be a whole number of at least 2 (the first round only warms up)',
  )
const FEEDS = KEPT_FEEDS
const { store, index } = await openKeptStore(dir)
try {
  const { service, session } = await keptQueryService({ store, index, feeds: FEEDS })
  const base = 'http://127.0.0.1:7401/fhir'
  const first = 'entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|patient-target&_count=100'
  /** One search: the page's Bundle JSON and its next URL's search part. */
  const page = async (search: string) => {
    const params = new URLSearchParams(search)
    const parsed = parseFhirSearch(groupParams(params))
    const answer = await service.answerAs(session, {
      filter: parsed.filter,
      ...(parsed.count === undefined ? {} : { limit: parsed.count }),
      ...(parsed.cursor === undefined ? {} : { cursor: parsed.cursor }),
      via: 'http',
    })
    let next: string | undefined
    if (answer.next !== undefined) {
      params.set(CURSOR_PARAM, answer.next)
      next = params.toString()
    }
    const bundle = toSearchBundle(
      answer,
      next === undefined
        ? { self: `${base}/AuditEvent?${search}` }
        : { self: `${base}/AuditEvent?${search}`, next: `${base}/AuditEvent?${next}` },
      { baseUrl: base, firstPage: parsed.cursor === undefined },
    )
    JSON.stringify(bundle)
    return { next, entries: answer.entries.length }
  }
  const loads = [loadavg()[0]!]
  /** Per page (by its place in the trail): opens, CPU and wall of each round. */
  const pages: { entries: number; opens: number[]; cpu: number[]; wall: number[] }[] = []
  for (let round = 0; round < ROUNDS; round++) {
    let at = 0
    for (let search: string | undefined = first; search !== undefined; at++) {
      const o = decipherOpens()
      const c = process.cpuUsage()
      const t = performance.now()
      const { next, entries } = await page(search)
      const wall = performance.now() - t
      const u = process.cpuUsage(c)
      pages[at] ??= { entries, opens: [], cpu: [], wall: [] }
      if (round > 0) {
        pages[at]!.opens.push(decipherOpens() - o)
        pages[at]!.cpu.push((u.user + u.system) / 1000)
        pages[at]!.wall.push(wall)
      }
      search = next
    }
  }
  loads.push(loadavg()[0]!)
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const full = pages.filter((p) => p.entries === 100)
  const figure = (name: string, p: (typeof pages)[number]) => ({
    name,
    value: median(p.cpu),
    unit: 'ms',
    note: `CPU median of ${ROUNDS - 1} rounds; wall ${median(p.wall).toFixed(1)} ms, ${median(p.opens)} AES-GCM opens, ${p.entries} entries`,
  })
  printFigures('a long trail page by page (FHIR search with _cursor, kept query store)', [
    {
      name: 'pages of the trail',
      value: pages.length,
      unit: '',
      note: `${pages.reduce((n, p) => n + p.entries, 0)} entries; load average ${loads[0]!.toFixed(1)} at start, ${loads[1]!.toFixed(1)} at end`,
    },
    figure('first page', pages[0]!),
    figure('middle page', full[Math.floor(full.length / 2)]!),
    figure('last full page', full.at(-1)!),
    {
      name: 'AES-GCM opens per page, every page',
      value: median(pages[0]!.opens),
      unit: '',
      note: pages.map((p) => median(p.opens)).join(' '),
    },
  ])
} finally {
  await index.close()
  await store.close()
}
