// ATNA ingest benchmark (issue 17): audit messages over RFC 5425 syslog-over-TLS into the
// first of 3 real local nodes, counted from the first byte sent until every message is
// appended (durable) there, until both other replicas hold them too, and until every node's
// per-patient index has the VRF outputs (betas) of their patients, so that a checkpoint can
// cut there. Two workloads on the same 3 nodes (docs/performance.md "ATNA syslog ingest"):
//
// - `pool`: what a hospital sends. Its audit messages name patients it has seen before: a pool
//   of SYSLOG_PATIENTS (default 100,000) patients, each sent once first (untimed, until every
//   index knows them), then SYSLOG_MESSAGES messages each naming a patient drawn uniformly,
//   with repetition, from the pool (a fixed-seed PRNG, so every run sends the same messages).
// - `new`: the worst case, every message a patient no node has seen (one VRF per message per
//   node).
//
// SYSLOG_WORKLOAD: pool, new, or both (default, pool first); SYSLOG_MESSAGES (default 20,000),
// SYSLOG_CONNECTIONS (default 4), SYSLOG_PARSE_THREADS (config.json syslog.parseThreads;
// unset: the node's default).
import '../../node/shim.ts'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { issue, makeCa } from '../atna-certs.ts'
import { basePort, initNetwork, startNodes, waitFor } from '../in-process-network.ts'
import { type Figure, printFigures } from './report.ts'

const SENDER = 'ehr.bench.test'

/** A small DICOM PS3.15 A.5 "Patient Record" read (EventID 110110), one patient. */
function message(i: number, patientId: string): Buffer {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-12-01T09:30:00Z" EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/></EventIdentification><ActiveParticipant UserID="dr-${i % 50}" UserIsRequestor="true"/><AuditSourceIdentification AuditSourceID="EHR-BENCH"/><ParticipantObjectIdentification ParticipantObjectID="${patientId}" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/></ParticipantObjectIdentification></AuditMessage>`
  const syslog = Buffer.from(
    `<85>1 2026-12-01T09:30:00Z ehr.bench.test EHR - IHE+RFC-3881 - ${xml}`,
  )
  return Buffer.concat([Buffer.from(`${syslog.byteLength} `), syslog])
}

/** mulberry32: a fixed-seed PRNG, so every run draws the same patients. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

type Nodes = Awaited<ReturnType<typeof startNodes>>

interface Phase {
  appendedMs: number
  convergedMs: number
  indexedMs: number
  cpuUs: number
  load: number[]
}

export async function benchSyslog(): Promise<Figure[]> {
  const count = Number(process.env.SYSLOG_MESSAGES ?? 20_000)
  const connections = Number(process.env.SYSLOG_CONNECTIONS ?? 4)
  const poolSize = Number(process.env.SYSLOG_PATIENTS ?? 100_000)
  const workload = process.env.SYSLOG_WORKLOAD ?? 'both'
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-bench-syslog-'))
  try {
    const { dirs } = await initNetwork(root)
    const certs = join(dirs[0]!, 'atna')
    await mkdir(certs)
    const ca = await makeCa(certs, 'bench-ca')
    await issue(certs, ca, 'syslog.bench.test')
    const ehr = await issue(certs, ca, SENDER)
    const port = basePort() + 7
    const configFile = join(dirs[0]!, 'config.json')
    const config = JSON.parse(await readFile(configFile, 'utf8'))
    config.syslog = {
      tls: {
        port,
        cert: 'atna/syslog.bench.test.crt',
        key: 'atna/syslog.bench.test.key',
        ca: 'atna/bench-ca.crt',
        allowedSubjects: [SENDER],
      },
      ...(process.env.SYSLOG_PARSE_THREADS !== undefined && {
        parseThreads: Number(process.env.SYSLOG_PARSE_THREADS),
      }),
    }
    await writeFile(configFile, JSON.stringify(config), { mode: 0o600 })
    const nodes = await startNodes(dirs)
    try {
      const send = (patients: readonly string[]) =>
        sendAll(nodes, patients, connections, (socket) =>
          connect({
            host: '127.0.0.1',
            port,
            servername: 'localhost',
            ca: ca.cert,
            cert: ehr.cert,
            key: ehr.key,
          }).on('secureConnect', () => socket()),
        )
      const figures: Figure[] = []
      if (workload === 'pool' || workload === 'both') {
        const pool = Array.from({ length: poolSize }, (_, i) => `PAT-${i}`)
        const warm = await send(pool)
        const random = prng(17)
        const drawn = Array.from({ length: count }, () => pool[Math.floor(random() * poolSize)]!)
        const distinct = new Set(drawn).size
        const phase = await send(drawn)
        figures.push(
          ...figuresOf(
            `pool of ${poolSize} known patients`,
            phase,
            `${count} messages naming ${distinct} distinct patients drawn from a pool of ${poolSize} every node had indexed (warm-up: ${poolSize} messages, ${(poolSize / (warm.indexedMs / 1000)).toFixed(0)}/s indexed on all 3)`,
            count,
            connections,
          ),
        )
      }
      if (workload === 'new' || workload === 'both') {
        const fresh = Array.from({ length: count }, (_, i) => `NEW-${i}`)
        const phase = await send(fresh)
        figures.push(
          ...figuresOf(
            'every message a new patient',
            phase,
            `${count} messages, each naming a patient no node had seen`,
            count,
            connections,
          ),
        )
      }
      return figures
    } finally {
      await Promise.all(nodes.map((n) => n.stop()))
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** Sends one message per patient over `connections` TLS connections; waits for all three stages. */
async function sendAll(
  nodes: Nodes,
  patients: readonly string[],
  connections: number,
  open: (onReady: () => void) => ReturnType<typeof connect>,
): Promise<Phase> {
  const first = nodes[0]!
  const origin = first.status().node
  const base = first.store.size(origin)
  const appended0 = appendedOf(first)
  const count = patients.length
  const wires = Array.from({ length: connections }, (_, c) =>
    Buffer.concat(
      Array.from({ length: Math.ceil(count / connections) }, (_, k) => k * connections + c)
        .filter((i) => i < count)
        .map((i) => message(i, patients[i]!)),
    ),
  )
  const load = loadavg()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(
    wires.map(
      (wire) =>
        new Promise<void>((resolve, reject) => {
          const socket = open(() => socket.end(wire))
          socket.on('error', reject)
          socket.on('close', () => resolve())
        }),
    ),
  )
  await waitFor('appended', () => appendedOf(first) - appended0 >= count, 1_200_000)
  const appendedMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await waitFor(
    'replicas converge',
    () => nodes.every((n) => n.store.size(origin) >= base + count),
    1_200_000,
  )
  const convergedMs = performance.now() - t0
  // The root at the new size needs every beta of the patients named there: the next
  // checkpoint's cut can be proposed from then on.
  await Promise.all(nodes.map((n) => n.index.rootAt(origin, base + count)))
  const indexedMs = performance.now() - t0
  return { appendedMs, convergedMs, indexedMs, cpuUs: cpu.user + cpu.system, load }
}

function appendedOf(node: Nodes[number]): number {
  return node.status().syslog?.find((s) => s.sender === SENDER)?.appended ?? 0
}

function figuresOf(
  label: string,
  p: Phase,
  what: string,
  count: number,
  connections: number,
): Figure[] {
  const note = `${what}; ${connections} TLS connections; load average ${p.load.map((l) => l.toFixed(2)).join(' ')} at start`
  const rate = (ms: number) => count / (ms / 1000)
  return [
    {
      name: `syslog over TLS, ${label}: appended on the receiving node`,
      value: rate(p.appendedMs),
      unit: 'messages/s',
      target: '>= 10,000',
      meets: rate(p.appendedMs) >= 10_000,
      note,
    },
    {
      // Every thread of the process (the 3 nodes, the parse, seal and VRF threads, the
      // senders' TLS): a figure the machine's load changes less than the rates.
      name: `syslog over TLS, ${label}: CPU per message until appended`,
      value: p.cpuUs / count,
      unit: 'µs',
      note,
    },
    {
      name: `syslog over TLS, ${label}: on all 3 replicas`,
      value: rate(p.convergedMs),
      unit: 'messages/s',
      target: '>= 10,000',
      meets: rate(p.convergedMs) >= 10_000,
      note,
    },
    {
      name: `syslog over TLS, ${label}: indexed on all 3 (betas known)`,
      value: rate(p.indexedMs),
      unit: 'messages/s',
      note,
    },
  ]
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/syslog\.(ts|mjs)$/)) {
  printFigures('ATNA syslog ingest, 3 local nodes', await benchSyslog())
}
