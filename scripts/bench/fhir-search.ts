// The FHIR search (GET /fhir/AuditEvent, docs/fhir.md) on the query benchmark's store: the
// parameters mapped (parseFhirSearch), the query answered (QueryService.answerAs: select,
// prove, record), the answer written as a searchset Bundle with every proof and serialized;
// without the HTTP transport. Then verifySearchBundle on the parsed Bundle, as a client does.
// The Bundle writer as it was before (each entry decoded again with decodeEntry, each proof
// hash converted on its own) runs interleaved with today's in the same run, so both see the
// same load: search i uses the old writer when i is even.
import { toSearchBundle } from '../../node/api/fhir-search-bundle.ts'
import { decodeEntry, type Entry } from '../../node/core/entry.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { toFhirAuditEvent } from '../../node/core/fhir/audit-event.ts'
import { INCLUSION_PROOF_EXTENSION } from '../../node/core/fhir/search-bundle.ts'
import { groupParams, parseFhirSearch } from '../../node/core/fhir/search-params.ts'
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

type Links = Parameters<typeof toSearchBundle>[1]
type Opts = Parameters<typeof toSearchBundle>[2]

/** The Bundle writer before this change (kept here only to measure against). */
function toSearchBundleBefore(answer: QueryAnswerJson, links: Links, opts: Opts) {
  const bundle = toSearchBundle({ ...answer, entries: [] }, links, opts)
  if (opts?.firstPage && links.next === undefined) bundle.total = answer.entries.length
  bundle.entry = answer.entries.map((item) => {
    const entry = decodeEntry(Buffer.from(item.bytes, 'base64')).entry as Entry<AuditEvent>
    const resource = toFhirAuditEvent(entry)
    resource.extension = [
      ...(resource.extension ?? []),
      {
        url: INCLUSION_PROOF_EXTENSION,
        extension: [
          { url: 'entry', valueBase64Binary: item.bytes },
          { url: 'leafIndex', valueInteger: entry.seq - 1 },
          { url: 'treeSize', valueInteger: item.treeSize },
          ...item.proof.map((h) => ({
            url: 'hash',
            valueBase64Binary: Buffer.from(h, 'hex').toString('base64'),
          })),
        ],
      },
    ]
    return {
      fullUrl: `${opts?.baseUrl}/AuditEvent/${resource.id}`,
      resource,
      search: { mode: 'match' as const },
    }
  })
  return bundle
}

interface Run {
  wall: number[]
  cpu: number[]
  query: number[]
  write: number[]
}

export async function benchFhirSearch(input: {
  service: QueryService
  session: Session
  patient: string
  trail: number
  queries: number
  keys: NetworkKeys
}): Promise<Figure[]> {
  const base = 'http://127.0.0.1:7401/fhir'
  const search = `entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|${input.patient}&_count=${input.trail}`
  const runs: Record<'before' | 'after', Run> = {
    before: { wall: [], cpu: [], query: [], write: [] },
    after: { wall: [], cpu: [], query: [], write: [] },
  }
  const texts = { before: '', after: '' }
  let lastAnswer: QueryAnswerJson | undefined
  for (let i = 0; i < 2 * input.queries; i++) {
    const which = i % 2 === 0 ? 'before' : 'after'
    const write = which === 'before' ? toSearchBundleBefore : toSearchBundle
    const c = process.cpuUsage()
    const t = performance.now()
    const parsed = parseFhirSearch(groupParams(new URLSearchParams(search)))
    const answer = await input.service.answerAs(input.session, {
      filter: parsed.filter,
      ...(parsed.count === undefined ? {} : { limit: parsed.count }),
      via: 'http',
    })
    const answered = performance.now()
    lastAnswer = answer
    const bundle = write(
      answer,
      { self: `${base}/AuditEvent?${search}` },
      { baseUrl: base, firstPage: true },
    )
    texts[which] = JSON.stringify(bundle)
    const done = performance.now()
    const run = runs[which]
    run.wall.push(done - t)
    run.cpu.push(cpuMs(process.cpuUsage(c)))
    run.query.push(answered - t)
    run.write.push(done - answered)
  }
  const warm = Math.floor(input.queries / 10) // dropped: JIT warm-up
  for (const run of Object.values(runs))
    for (const k of ['wall', 'cpu', 'query', 'write'] as const) run[k] = run[k].slice(warm)
  // Both writers give the same Bundle for the same answer.
  const same = (write: typeof toSearchBundle) =>
    JSON.stringify(
      write(
        lastAnswer!,
        { self: `${base}/AuditEvent?${search}` },
        { baseUrl: base, firstPage: true },
      ),
    )
  if (same(toSearchBundleBefore) !== same(toSearchBundle))
    throw new Error('the two Bundle writers disagree')
  // The writers alone on that answer, interleaved: CPU per Bundle written and serialized.
  const writerCpu = { before: [] as number[], after: [] as number[] }
  for (let i = 0; i < 400; i++) {
    const which = i % 2 === 0 ? 'before' : 'after'
    const c = process.cpuUsage()
    same(which === 'before' ? toSearchBundleBefore : toSearchBundle)
    writerCpu[which].push(cpuMs(process.cpuUsage(c)))
  }
  const text = texts.after
  const bundle = JSON.parse(text) as { total?: number }
  if (bundle.total !== input.trail) throw new Error(`the Bundle has ${bundle.total} entries`)
  const memo = new Map<string, number[]>()
  const verify: number[] = []
  const verifyCpu: number[] = []
  for (let i = 0; i < 30; i++) {
    const c = process.cpuUsage()
    const t = performance.now()
    const checked = verifySearchBundle(bundle, { keys: input.keys, verifiedCheckpoints: memo })
    verify.push(performance.now() - t)
    verifyCpu.push(cpuMs(process.cpuUsage(c)))
    if (checked.result.failures.length > 0 || checked.result.verified.length !== input.trail)
      throw new Error(`verification failed: ${JSON.stringify(checked.result.failures[0])}`)
  }
  const { before, after } = runs
  const p99 = percentile(after.wall, 99)
  const split = (r: Run) =>
    `query p50 ${percentile(r.query, 50).toFixed(1)} / p99 ${percentile(r.query, 99).toFixed(1)} ms, Bundle and JSON p50 ${percentile(r.write, 50).toFixed(1)} / p99 ${percentile(r.write, 99).toFixed(1)} ms`
  return [
    { name: 'FHIR search p50 (map, query, Bundle)', value: percentile(after.wall, 50), unit: 'ms' },
    {
      name: 'FHIR search p99',
      value: p99,
      unit: 'ms',
      target: '< 100',
      meets: p99 < 100,
      note: `${input.trail}-entry trail by entity.identifier, proofs in the Bundle, no HTTP`,
    },
    {
      name: 'FHIR search CPU time p50 / p99',
      value: percentile(after.cpu, 50),
      unit: 'ms',
      note: `p99 ${percentile(after.cpu, 99).toFixed(1)} ms; all threads`,
    },
    {
      name: 'FHIR search, of which',
      value: percentile(after.write, 50),
      unit: 'ms',
      note: split(after),
    },
    {
      name: 'FHIR search p50 / p99, Bundle writer before',
      value: percentile(before.wall, 50),
      unit: 'ms',
      note: `p99 ${percentile(before.wall, 99).toFixed(1)} ms, CPU p50 ${percentile(before.cpu, 50).toFixed(1)} / p99 ${percentile(before.cpu, 99).toFixed(1)} ms; ${split(before)}; interleaved with the searches above`,
    },
    {
      name: 'FHIR Bundle writer CPU p50, before / now',
      value: percentile(writerCpu.before.slice(20), 50),
      unit: 'ms',
      note: `now ${percentile(writerCpu.after.slice(20), 50).toFixed(2)} ms (p99 ${percentile(writerCpu.before.slice(20), 99).toFixed(2)} / ${percentile(writerCpu.after.slice(20), 99).toFixed(2)} ms): toSearchBundle and JSON.stringify of one ${input.trail}-entry answer, 200 each, interleaved`,
    },
    {
      name: 'FHIR Bundle size',
      value: Buffer.byteLength(text) / 1024,
      unit: 'KiB',
      note: `${input.trail} AuditEvents with proofs, the checkpoint once`,
    },
    {
      name: 'FHIR Bundle verification p50, checkpoint already verified',
      value: percentile(verify.slice(1), 50),
      unit: 'ms',
      note: `CPU p50 ${percentile(verifyCpu.slice(1), 50).toFixed(1)} ms; the first (with the BLS check): ${verify[0]!.toFixed(1)} ms`,
    },
  ]
}
