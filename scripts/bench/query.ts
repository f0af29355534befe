// Verified-query benchmark (docs/query.md): a patient's trail of 100 entries in a store of
// QUERY_ENTRIES entries (default 1,000,000) over three feeds, built with LogStore.appendEvents.
// Served: QueryService.answerAs (filter, blind-index lookup, entry reads, one inclusion proof per
// entry, and the query's own audit event appended and fsync'd first), without the transport.
// Verified: verifyQueryAnswer on the client (BLS aggregate, proofs, filter) on that answer.
import '../../node/shim.ts'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { blsPublicKey, blsSign, generateBlsSecretKey } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointSigningMessage,
} from '../../node/core/checkpoint.ts'
import { type AuditEvent, parseEvent } from '../../node/core/event.ts'
import { EMPTY_ROOT } from '../../node/core/merkle/index.ts'
import { type QueryAnswerJson, verifyQueryAnswer } from '../../node/core/query-answer.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { IngestQueue } from '../../node/ingest/index.ts'
import { QueryService, type Session } from '../../node/query/index.ts'
import { LogStore } from '../../node/store/index.ts'
import { type Figure, printFigures } from './report.ts'

const ENTRIES = Number(process.env.QUERY_ENTRIES ?? 1_000_000)
const QUERIES = Number(process.env.QUERIES ?? 300)
const TRAIL = 100
const BATCH = 1000
/** The stored feeds; the answering node records its queries in a fourth feed of its own. */
const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']
const SELF = 'hospital-d'
const TARGET = 'patient-target'

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** Seed-shaped events in visits of 8; every (ENTRIES / TRAIL)-th is the target patient's. */
function batch(offset: number): AuditEvent[] {
  const every = Math.floor(ENTRIES / TRAIL)
  return Array.from({ length: BATCH }, (_, j) => {
    const i = offset + j
    const visit = Math.floor(i / 8)
    const patient = i % every === every - 1 ? TARGET : `patient-${(visit * 7919) % 50_000}`
    return parseEvent({
      patientId: patient,
      patientName: `name_${patient}`,
      actorId: `staff-${(visit * 31 + (i % 2)) % 400}`,
      action: (['read', 'update', 'create', 'print'] as const)[i % 4],
      detail: 'prescription',
      resource: 'user_prescriptions',
      time: new Date(Date.UTC(2023, 11, 4) + i * 1000).toISOString(),
      notes: `Doctor added a new prescription, visit ${visit}`,
    })
  })
}

export async function benchQuery(): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-bench-query-'))
  const signers = [...ORIGINS, SELF].map((origin) => ({
    origin,
    privateKey: generateKeyPairSync('ed25519').privateKey,
  }))
  const publicKeys = new Map(signers.map((s) => [s.origin, ed25519RawPublicKey(s.privateKey)]))
  const store = new LogStore({
    path: join(dir, 'db'),
    keys: { valueKey: randomBytes(32), indexKey: randomBytes(32) },
    originKey: (o) => publicKeys.get(o),
  })
  await store.open()
  const ingest = new IngestQueue({ store, signer: signers[3]!, onAppended: () => {} })
  try {
    const t0 = performance.now()
    let inFlight: Promise<unknown> = Promise.resolve()
    for (let done = 0; done < ENTRIES; done += BATCH) {
      const write = store.appendEvents(signers[(done / BATCH) % ORIGINS.length]!, batch(done))
      await inFlight
      inFlight = write
    }
    await inFlight
    const buildSeconds = (performance.now() - t0) / 1000

    const bls = [...ORIGINS, SELF].map(() => generateBlsSecretKey())
    const networkId = new Uint8Array(randomBytes(32))
    const checkpoint: Checkpoint = {
      networkId,
      timeMs: Date.now(),
      feeds: [...ORIGINS, SELF].map((origin) => ({
        origin,
        treeSize: store.size(origin),
        root: store.latestHead(origin)?.root ?? EMPTY_ROOT,
      })),
    }
    const message = checkpointSigningMessage(checkpoint)
    const cosigned = aggregateCosignatures(
      checkpoint,
      new Map(bls.slice(0, 3).map((k, i) => [i, blsSign(k, message)])),
      bls.length,
    )
    const session: Session = {
      v: 1,
      sub: 'audit@hospital-d',
      role: 'auditor',
      iss: SELF,
      sid: '0'.repeat(32),
      iat: 0,
      exp: Number.MAX_SAFE_INTEGER,
      status: 'active',
    }
    const service = (record: boolean) =>
      new QueryService({
        node: SELF,
        store,
        checkpoints: { latest: () => cosigned },
        auth: { authenticate: () => session },
        record: record ? (event) => ingest.submit([event]) : async () => {},
      })
    const request = { filter: { patient: TARGET }, limit: TRAIL, via: 'http' as const }
    const time = async (s: QueryService) => {
      const times: number[] = []
      const cpu: number[] = []
      let answer: QueryAnswerJson | undefined
      for (let i = 0; i < QUERIES; i++) {
        const c = process.cpuUsage()
        const t = performance.now()
        answer = await s.answerAs(session, request)
        times.push(performance.now() - t)
        cpu.push(cpuMs(process.cpuUsage(c)))
      }
      const warm = Math.floor(QUERIES / 10) // dropped: JIT warm-up
      return { times: times.slice(warm), cpu: cpu.slice(warm), answer: answer! }
    }
    const served = await time(service(true))
    const unrecorded = await time(service(false))
    const answer = served.answer
    if (answer.entries.length !== TRAIL)
      throw new Error(`answer has ${answer.entries.length} entries`)

    const trust = {
      networkId,
      blsKeys: bls.map(blsPublicKey),
      ed25519Keys: publicKeys,
      filter: { patient: TARGET },
    }
    const verifyTimes: number[] = []
    const verifyCpu: number[] = []
    for (let i = 0; i < 60; i++) {
      const c = process.cpuUsage()
      const t = performance.now()
      const result = verifyQueryAnswer(answer, trust)
      verifyTimes.push(performance.now() - t)
      verifyCpu.push(cpuMs(process.cpuUsage(c)))
      if (result.failures.length > 0 || result.verified.length !== TRAIL)
        throw new Error(`verification failed: ${JSON.stringify(result.failures.slice(0, 2))}`)
    }
    const verify = verifyTimes.slice(10)
    // The next page or a cross-check under a checkpoint already verified: no BLS check.
    const warmTrust = { ...trust, verifiedCheckpoints: new Map<string, number[]>() }
    verifyQueryAnswer(answer, warmTrust)
    const warm: number[] = []
    for (let i = 0; i < 60; i++) {
      const t = performance.now()
      verifyQueryAnswer(answer, warmTrust)
      warm.push(performance.now() - t)
    }
    const load = loadavg()[0]!
    const p99 = percentile(served.times, 99)
    const verifyP99 = percentile(verify, 99)
    return [
      {
        name: 'store entries',
        value: ENTRIES,
        unit: '',
        note: `built in ${buildSeconds.toFixed(0)} s`,
      },
      {
        name: 'served p50 (select, prove, record)',
        value: percentile(served.times, 50),
        unit: 'ms',
      },
      { name: 'served p99', value: p99, unit: 'ms', target: '< 50', meets: p99 < 50 },
      {
        name: 'served CPU time p50 / p99',
        value: percentile(served.cpu, 50),
        unit: 'ms',
        note: `p99 ${percentile(served.cpu, 99).toFixed(1)} ms; all threads (LevelDB reads included)`,
      },
      {
        name: 'served p50 / p99 without the audit append',
        value: percentile(unrecorded.times, 50),
        unit: 'ms',
        note: `p99 ${percentile(unrecorded.times, 99).toFixed(1)} ms`,
      },
      { name: 'client verification p50', value: percentile(verify, 50), unit: 'ms' },
      {
        name: 'client verification CPU time p50',
        value: percentile(verifyCpu.slice(10), 50),
        unit: 'ms',
      },
      {
        name: 'client verification p99',
        value: verifyP99,
        unit: 'ms',
        target: '< 50',
        meets: verifyP99 < 50,
      },
      {
        name: 'client verification p50, checkpoint already verified',
        value: percentile(warm.slice(10), 50),
        unit: 'ms',
        note: 'the next page, or a cross-check answer under the same checkpoint',
      },
      {
        name: 'answer size',
        value: Buffer.byteLength(JSON.stringify(answer)) / 1024,
        unit: 'KiB',
        note: `${TRAIL} entries with proofs and the checkpoint`,
      },
      {
        name: 'load average at the end',
        value: load,
        unit: '',
        note: 'wall-clock figures stretch with other work on the machine; CPU times less so',
      },
    ]
  } finally {
    await ingest.drain()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printFigures('verified queries', await benchQuery())
}
