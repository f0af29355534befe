// The FHIR search (GET /fhir/AuditEvent, docs/fhir.md) on the query benchmark's store: the
// parameters mapped (parseFhirSearch), the query answered (QueryService.answerAs: select,
// prove, record), the answer written as a searchset Bundle with every proof and serialized;
// without the HTTP transport. Then verifySearchBundle on the parsed Bundle, as a client does.
// Three searches interleaved, so all see the same load: the first page of a 100-event trail
// (a patient no earlier query of this store asked about: its trail at the checkpoint's cut is
// exactly 100 events, the case), the first page of the target's trail (100 events and
// the records of every query of it so far: 100 + 800 a run on a kept store) and that trail's
// last full page (its cursor taken before the searches). Each search is recorded in the trail
// it asked about, past the checkpoint's cut, so the first pages stay the same entries.
import { toSearchBundle } from '../../node/api/fhir-search-bundle.ts'
import { CURSOR_PARAM, groupParams, parseFhirSearch } from '../../node/core/fhir/search-params.ts'
import { verifySearchBundle } from '../../node/core/fhir/search-verify.ts'
import type { NetworkKeys, QueryAnswerJson } from '../../node/core/trust/index.ts'
import type { QueryService, Session } from '../../node/query/index.ts'
import type { Figure } from './report.ts'

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

interface Run {
  wall: number[]
  cpu: number[]
  query: number[]
  write: number[]
}

const BASE = 'http://127.0.0.1:7401/fhir'
const PAGE = 100

function searchOf(patient: string, cursor?: string): string {
  const params = new URLSearchParams({
    'entity.identifier': `urn:oid:2.16.756.5.30.1.127.3.10.3|${patient}`,
    _count: String(PAGE),
  })
  if (cursor !== undefined) params.set(CURSOR_PARAM, cursor)
  return params.toString()
}

/** One FHIR search as the route answers it: the answer, its Bundle's JSON, and the timings. */
async function searchOnce(service: QueryService, session: Session, search: string) {
  const params = new URLSearchParams(search)
  const parsed = parseFhirSearch(groupParams(params))
  const c = process.cpuUsage()
  const t = performance.now()
  const answer = await service.answerAs(session, {
    filter: parsed.filter,
    ...(parsed.count === undefined ? {} : { limit: parsed.count }),
    ...(parsed.cursor === undefined ? {} : { cursor: parsed.cursor }),
    via: 'http',
  })
  const answered = performance.now()
  let next: string | undefined
  if (answer.next !== undefined) {
    params.set(CURSOR_PARAM, answer.next)
    next = `${BASE}/AuditEvent?${params}`
  }
  const self = `${BASE}/AuditEvent?${search}`
  const bundle = toSearchBundle(answer, next === undefined ? { self } : { self, next }, {
    baseUrl: BASE,
    firstPage: parsed.cursor === undefined,
  })
  const text = JSON.stringify(bundle)
  const done = performance.now()
  return {
    answer,
    text,
    wall: done - t,
    cpu: cpuMs(process.cpuUsage(c)),
    query: answered - t,
    write: done - answered,
  }
}

/** The cursor of the trail's last page of PAGE entries (its pages read once, unrecorded). */
async function lastFullPage(
  service: QueryService,
  session: Session,
  patient: string,
): Promise<{ cursor: string | undefined; pages: number; entries: number }> {
  let cursor: string | undefined
  let last: string | undefined
  let pages = 0
  let entries = 0
  for (;;) {
    const answer: QueryAnswerJson = await service.answerAs(session, {
      filter: { patient },
      limit: PAGE,
      via: 'http',
      ...(cursor === undefined ? {} : { cursor }),
    })
    pages++
    entries += answer.entries.length
    if (answer.entries.length === PAGE) last = cursor
    if (answer.next === undefined) return { cursor: last, pages, entries }
    cursor = answer.next
  }
}

export async function benchFhirSearch(input: {
  service: QueryService
  /** The same without recording (to find the long trail's last page without growing it). */
  unrecorded: QueryService
  session: Session
  /** A patient whose trail at the checkpoint's cut is exactly 100 events. */
  fresh: string
  /** The patient every earlier query asked about: a long trail on a kept store. */
  target: string
  /** The target's trail at the checkpoint's cut (all feeds). */
  targetAtCut: number
  queries: number
  keys: NetworkKeys
}): Promise<Figure[]> {
  const deep = await lastFullPage(input.unrecorded, input.session, input.target)
  const kinds = {
    fresh: searchOf(input.fresh),
    long: searchOf(input.target),
    deep: searchOf(input.target, deep.cursor),
  }
  const names = Object.keys(kinds) as Array<keyof typeof kinds>
  const runs = Object.fromEntries(
    names.map((k) => [k, { wall: [], cpu: [], query: [], write: [] } as Run]),
  ) as Record<keyof typeof kinds, Run>
  const texts: Partial<Record<keyof typeof kinds, string>> = {}
  for (let i = 0; i < names.length * input.queries; i++) {
    const which = names[i % names.length]!
    const done = await searchOnce(input.service, input.session, kinds[which])
    if (done.answer.entries.length !== PAGE)
      throw new Error(`the ${which} search answered ${done.answer.entries.length} entries`)
    texts[which] = done.text
    const run = runs[which]
    for (const k of ['wall', 'cpu', 'query', 'write'] as const) run[k].push(done[k])
  }
  const warm = Math.floor(input.queries / 10) // dropped: JIT warm-up
  for (const run of Object.values(runs))
    for (const k of ['wall', 'cpu', 'query', 'write'] as const) run[k] = run[k].slice(warm)
  const text = texts.fresh!
  const bundle = JSON.parse(text) as { entry?: unknown[] }
  const memo = new Map<string, number[]>()
  const verify: number[] = []
  const verifyCpu: number[] = []
  for (let i = 0; i < 30; i++) {
    const c = process.cpuUsage()
    const t = performance.now()
    const checked = verifySearchBundle(bundle, { keys: input.keys, verifiedCheckpoints: memo })
    verify.push(performance.now() - t)
    verifyCpu.push(cpuMs(process.cpuUsage(c)))
    if (checked.result.failures.length > 0 || checked.result.verified.length !== PAGE)
      throw new Error(`verification failed: ${JSON.stringify(checked.result.failures[0])}`)
  }
  const split = (r: Run) =>
    `CPU p50 ${percentile(r.cpu, 50).toFixed(1)} / p99 ${percentile(r.cpu, 99).toFixed(1)} ms (all threads); query p50 ${percentile(r.query, 50).toFixed(1)} / p99 ${percentile(r.query, 99).toFixed(1)} ms, Bundle and JSON p50 ${percentile(r.write, 50).toFixed(1)} / p99 ${percentile(r.write, 99).toFixed(1)} ms`
  const { fresh, long } = runs
  const p99 = percentile(fresh.wall, 99)
  const longP99 = percentile(long.wall, 99)
  const deepP99 = percentile(runs.deep.wall, 99)
  const counted = `${input.queries - warm} searches each, interleaved`
  return [
    {
      name: 'FHIR search p50, a 100-event trail (map, query, Bundle)',
      value: percentile(fresh.wall, 50),
      unit: 'ms',
      note: `${input.fresh}; ${split(fresh)}`,
    },
    {
      name: 'FHIR search p99, a 100-event trail',
      value: p99,
      unit: 'ms',
      target: '< 100',
      meets: p99 < 100,
      note: `${counted}; by entity.identifier, _count=${PAGE}, proofs in the Bundle, no HTTP`,
    },
    {
      name: 'FHIR search CPU p50 / p99, a 100-event trail',
      value: percentile(fresh.cpu, 50),
      unit: 'ms',
      note: `p99 ${percentile(fresh.cpu, 99).toFixed(1)} ms; all threads`,
    },
    {
      name: 'FHIR search p50 / p99, first page of a long trail',
      value: percentile(long.wall, 50),
      unit: 'ms',
      note: `p99 ${longP99.toFixed(1)} ms; ${input.target}, ${input.targetAtCut} events at the cut, ${deep.entries} when the searches began (${deep.pages} pages); ${split(long)}`,
    },
    {
      name: 'FHIR search p50 / p99, last full page of that trail',
      value: percentile(runs.deep.wall, 50),
      unit: 'ms',
      note: `p99 ${deepP99.toFixed(1)} ms; by its _cursor; ${split(runs.deep)}`,
    },
    {
      name: 'FHIR Bundle size',
      value: Buffer.byteLength(text) / 1024,
      unit: 'KiB',
      note: `${PAGE} AuditEvents with proofs, the checkpoint once`,
    },
    {
      name: 'FHIR Bundle verification p50, checkpoint already verified',
      value: percentile(verify.slice(1), 50),
      unit: 'ms',
      note: `CPU p50 ${percentile(verifyCpu.slice(1), 50).toFixed(1)} ms; the first (with the BLS check): ${verify[0]!.toFixed(1)} ms`,
    },
  ]
}
