// The FHIR search (GET /fhir/AuditEvent, docs/fhir.md) on the query benchmark's store: the
// parameters mapped (parseFhirSearch), the query answered (QueryService.answerAs: select,
// prove, record), the answer written as a searchset Bundle with every proof and serialized;
// without the HTTP transport. Then verifySearchBundle on the parsed Bundle, as a client does.
import { toSearchBundle } from '../../node/api/fhir-search-bundle.ts'
import { groupParams, parseFhirSearch } from '../../node/core/fhir/search-params.ts'
import { verifySearchBundle } from '../../node/core/fhir/search-verify.ts'
import type { NetworkKeys } from '../../node/core/trust/index.ts'
import type { QueryService, Session } from '../../node/query/index.ts'
import type { Figure } from './report.ts'

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
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
  const times: number[] = []
  const cpu: number[] = []
  let text = ''
  for (let i = 0; i < input.queries; i++) {
    const c = process.cpuUsage()
    const t = performance.now()
    const parsed = parseFhirSearch(groupParams(new URLSearchParams(search)))
    const answer = await input.service.answerAs(input.session, {
      filter: parsed.filter,
      ...(parsed.count === undefined ? {} : { limit: parsed.count }),
      via: 'http',
    })
    const bundle = toSearchBundle(
      answer,
      { self: `${base}/AuditEvent?${search}` },
      { baseUrl: base, firstPage: true },
    )
    text = JSON.stringify(bundle)
    times.push(performance.now() - t)
    cpu.push(cpuMs(process.cpuUsage(c)))
  }
  const warm = Math.floor(input.queries / 10) // dropped: JIT warm-up
  const served = times.slice(warm)
  const servedCpu = cpu.slice(warm)
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
  const p99 = percentile(served, 99)
  return [
    { name: 'FHIR search p50 (map, query, Bundle)', value: percentile(served, 50), unit: 'ms' },
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
      value: percentile(servedCpu, 50),
      unit: 'ms',
      note: `p99 ${percentile(servedCpu, 99).toFixed(1)} ms; all threads`,
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
