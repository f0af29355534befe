// ATNA ingest benchmark (issue 17): audit messages over RFC 5425 syslog-over-TLS into the
// first of 3 real local nodes, counted from the first byte sent until every message is
// appended (durable) there, and until both other replicas hold them too. Reads
// SYSLOG_MESSAGES (default 20,000), SYSLOG_CONNECTIONS (default 4) and SYSLOG_PARSE_THREADS
// (config.json syslog.parseThreads; unset: the node's default).
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
function message(i: number): Buffer {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-12-01T09:30:00Z" EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/></EventIdentification><ActiveParticipant UserID="dr-${i % 50}" UserIsRequestor="true"/><AuditSourceIdentification AuditSourceID="EHR-BENCH"/><ParticipantObjectIdentification ParticipantObjectID="P-${i}" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/></ParticipantObjectIdentification></AuditMessage>`
  const syslog = Buffer.from(
    `<85>1 2026-12-01T09:30:00Z ehr.bench.test EHR - IHE+RFC-3881 - ${xml}`,
  )
  return Buffer.concat([Buffer.from(`${syslog.byteLength} `), syslog])
}

export async function benchSyslog(): Promise<Figure[]> {
  const count = Number(process.env.SYSLOG_MESSAGES ?? 20_000)
  const connections = Number(process.env.SYSLOG_CONNECTIONS ?? 4)
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
      const first = nodes[0]!
      const origin = first.status().node
      const base = first.store.size(origin)
      const appended = () => first.status().syslog?.find((s) => s.sender === SENDER)?.appended ?? 0
      const wires = Array.from({ length: connections }, (_, c) =>
        Buffer.concat(
          Array.from({ length: Math.ceil(count / connections) }, (_, k) => k * connections + c)
            .filter((i) => i < count)
            .map(message),
        ),
      )
      const load = loadavg()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await Promise.all(
        wires.map(
          (wire) =>
            new Promise<void>((resolve, reject) => {
              const socket = connect({
                host: '127.0.0.1',
                port,
                servername: 'localhost',
                ca: ca.cert,
                cert: ehr.cert,
                key: ehr.key,
              })
              socket.on('secureConnect', () => socket.end(wire))
              socket.on('error', reject)
              socket.on('close', () => resolve())
            }),
        ),
      )
      await waitFor('appended', () => appended() >= count, 600_000)
      const tAppended = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      await waitFor(
        'replicas converge',
        () => nodes.every((n) => n.store.size(origin) >= base + count),
        600_000,
      )
      const tConverged = performance.now() - t0
      const note = `${count} messages over ${connections} TLS connections; load average ${load.map((l) => l.toFixed(2)).join(' ')} at start`
      return [
        {
          name: 'syslog over TLS: appended on the receiving node',
          value: count / (tAppended / 1000),
          unit: 'messages/s',
          target: '>= 10,000',
          meets: count / (tAppended / 1000) >= 10_000,
          note,
        },
        {
          // Every thread of the process (the 3 nodes, the parse and seal threads, the
          // senders' TLS): a figure the machine's load changes less than the rates.
          name: 'syslog over TLS: CPU per message until appended',
          value: (cpu.user + cpu.system) / count,
          unit: 'µs',
          note,
        },
        {
          name: 'syslog over TLS: on all 3 replicas',
          value: count / (tConverged / 1000),
          unit: 'messages/s',
          target: '>= 10,000',
          meets: count / (tConverged / 1000) >= 10_000,
          note,
        },
      ]
    } finally {
      await Promise.all(nodes.map((n) => n.stop()))
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/syslog\.(ts|mjs)$/)) {
  printFigures('ATNA syslog ingest, 3 local nodes', await benchSyslog())
}
