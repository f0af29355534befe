// Micro-benchmark of the store's write path (issue 17): CPU per entry of LogStore appends of
// ~2 KiB ATNA-like entries (what the receiving node runs) and of acceptBatch of the same
// batches into a second store (what each replica runs), main thread and whole process.
//
//   node --import tsx scripts/bench/store-write.ts [ROOT ...]
//
// With several ROOTs (checkouts of ehrlog, e.g. main and a branch), each round runs every
// root once, in a child process of its own, alternately, so that load on the machine hits
// them alike; the medians per root are printed at the end. Without a ROOT: this checkout.
// STORE_WRITE_ROUNDS (default 5), STORE_WRITE_ENTRIES (timed entries, default 30,000),
// STORE_WRITE_BATCH (entries per append, default 200).
import { execFileSync } from 'node:child_process'
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { cpuTime } from './memory.ts'

const ENTRIES = Number(process.env.STORE_WRITE_ENTRIES ?? 30_000)
const WARM = 10_000
const BATCH = Number(process.env.STORE_WRITE_BATCH ?? 200)
const PATIENTS = 10_000

interface Result {
  append: { main: number; process: number }
  accept: { main: number; process: number }
}

/** The ATNA message the syslog benchmark sends, as the ingest makes it an event (~2 KiB entry). */
function atnaEvent(i: number, patientId: string): Record<string, unknown> {
  const xml = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-12-01T09:30:00Z" EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/></EventIdentification><ActiveParticipant UserID="dr-${i % 50}" UserIsRequestor="true"/><AuditSourceIdentification AuditSourceID="EHR-BENCH"/><ParticipantObjectIdentification ParticipantObjectID="${patientId}" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/></ParticipantObjectIdentification></AuditMessage>`,
  )
  return {
    patientId,
    actorId: `dr-${i % 50}`,
    action: 'read',
    detail: 'Patient Record',
    resource: 'Patient Number',
    time: new Date(Date.UTC(2026, 11, 1, 9, 30) + i * 7).toISOString(),
    outcome: 'success',
    source: 'EHR-BENCH',
    originalSha256: createHash('sha256').update(xml).digest('hex'),
    original: xml.toString('base64'),
  }
}

async function child(root: string): Promise<Result> {
  const mod = (p: string) => import(pathToFileURL(join(root, p)).href)
  await mod('node/shim.ts')
  const { LogStore } = await mod('node/store/index.ts')
  const { parseEvent } = await mod('node/core/event.ts')
  const { ed25519RawPublicKey } = await mod('node/core/tree-head.ts')
  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-store-write-'))
  try {
    const { privateKey } = generateKeyPairSync('ed25519')
    const signer = { origin: 'hospital-a', privateKey }
    const publicKey = ed25519RawPublicKey(privateKey)
    const keys = { valueKey: randomBytes(32), indexKey: randomBytes(32) }
    const open = (name: string) =>
      new LogStore({ path: join(dir, name), keys, originKey: () => publicKey, sync: false })
    let seed = 17
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const total = WARM + ENTRIES
    const events = Array.from({ length: total }, (_, i) =>
      parseEvent(atnaEvent(i, `P${Math.floor(random() * PATIENTS)}`)),
    )
    const origin = open('origin')
    await origin.open()
    const append = async (from: number, to: number) => {
      let inFlight: Promise<unknown> = Promise.resolve()
      for (let at = from; at < to; at += BATCH) {
        const write = origin.appendEvents(signer, events.slice(at, Math.min(to, at + BATCH)))
        await inFlight
        inFlight = write
      }
      await inFlight
    }
    await append(0, WARM)
    const a0 = cpuTime()
    await append(WARM, total)
    const a1 = cpuTime()
    const batches = await origin.readBatches('hospital-a', 1, total)
    await origin.close()
    const replica = open('replica')
    await replica.open()
    let b = 0
    for (let size = 0; size < WARM; b++) size = (await replica.acceptBatch(batches[b])).treeSize
    const r0 = cpuTime()
    let inFlight: Promise<unknown> = Promise.resolve()
    for (; b < batches.length; b++) {
      const write = replica.acceptBatch(batches[b])
      await inFlight
      inFlight = write
    }
    await inFlight
    const r1 = cpuTime()
    if (replica.size('hospital-a') !== total) throw new Error('replica is short')
    await replica.close()
    const per = (from: ReturnType<typeof cpuTime>, to: ReturnType<typeof cpuTime>) => ({
      main: (((to.mainSeconds ?? 0) - (from.mainSeconds ?? 0)) * 1e6) / ENTRIES,
      process: ((to.processSeconds - from.processSeconds) * 1e6) / ENTRIES,
    })
    return { append: per(a0, a1), accept: per(r0, r1) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

async function main(): Promise<void> {
  if (process.env.STORE_WRITE_ROOT) {
    process.stdout.write(`${JSON.stringify(await child(process.env.STORE_WRITE_ROOT))}\n`)
    return
  }
  const here = resolve(fileURLToPath(import.meta.url), '../../..')
  const roots = process.argv.length > 2 ? process.argv.slice(2).map((r) => resolve(r)) : [here]
  const rounds = Number(process.env.STORE_WRITE_ROUNDS ?? 5)
  const results = new Map<string, Result[]>(roots.map((r) => [r, []]))
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  for (let round = 0; round < rounds; round++) {
    for (const root of round % 2 ? [...roots].reverse() : roots) {
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url)],
        {
          cwd: root,
          env: { ...process.env, STORE_WRITE_ROOT: root },
          encoding: 'utf8',
        },
      )
      const r = JSON.parse(out.trim().split('\n').pop()!) as Result
      results.get(root)!.push(r)
      console.log(
        `round ${round + 1} ${root}: append ${r.append.main.toFixed(1)} main / ${r.append.process.toFixed(1)} process µs, accept ${r.accept.main.toFixed(1)} / ${r.accept.process.toFixed(1)} µs`,
      )
    }
  }
  console.log(
    `load average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  console.log(`median CPU µs per entry (${ENTRIES} entries, batches of ${BATCH}), main / process:`)
  for (const [root, rs] of results) {
    const m = (f: (r: Result) => number) => median(rs.map(f)).toFixed(1)
    console.log(
      `  ${root}: append ${m((r) => r.append.main)} / ${m((r) => r.append.process)}, accept ${m((r) => r.accept.main)} / ${m((r) => r.accept.process)}`,
    )
  }
}

await main()
