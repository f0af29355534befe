// Verified-query benchmark (docs/query.md): a patient's trail of 100 entries in a store of
// QUERY_ENTRIES entries (default 1,000,000) over three feeds, built with LogStore.appendEvents.
// QUERY_STORE_DIR=DIR keeps the built store (and its keys, in DIR/bench.json) and reuses it on
// the next run with the same QUERY_ENTRIES; each run adds its queries' events to a fourth feed
// (each names the target: its trail then outgrows one page, and the completeness check pages).
// Served: QueryService.answerAs (filter, blind-index lookup, entry reads, one inclusion proof per
// entry, and the query's own audit event appended and fsync'd first), without the transport.
// Verified: verifyQueryAnswer on the client (BLS aggregate, proofs, filter) on that answer,
// then checkAnswerCompleteness (the trail's completeness proof), in Node (the CLI's code) and in
// Chromium (the portal's bundle of the same code; skipped without /usr/bin/chromium).
// The checkpoint carries real index roots: an IndexService over the store (VRF key kept with
// the store) answers the completeness proof. The other patients' VRF outputs are pre-seeded in
// the beta cache as random bytes (100,000 real ones cost ~8 min of the VRF thread, once per
// patient ever; index-core.ts has that figure); the target's is computed, so its proof verifies.
import '../../node/shim.ts'
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { blsPublicKey, generateBlsSecretKey } from '../../node/core/bls.ts'
import { type AuditEvent, parseEvent } from '../../node/core/event.ts'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import {
  checkAnswerCompleteness,
  type QueryAnswerJson,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'
import { IndexService } from '../../node/index/index.ts'
import { IngestQueue, OwnFeed } from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { QueryService } from '../../node/query/index.ts'
import { LogStore } from '../../node/store/index.ts'
import { auditorSession, checkpointOfStore, cosignedBy3 } from './bench-checkpoint.ts'
import { verifyInChromium } from './browser-verify.ts'
import { benchFhirSearch } from './fhir-search.ts'
import { keep, keptStore } from './query-kept.ts'
import { entriesInCut, laterPages } from './query-pages.ts'
import { type Figure, printFigures } from './report.ts'

const ENTRIES = Number(process.env.QUERY_ENTRIES ?? 1_000_000)
const QUERIES = Number(process.env.QUERIES ?? 300)
const TRAIL = 100
const BATCH = 1000
/** The stored feeds; the answering node records its queries in a fourth feed of its own. */
const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']
const SELF = 'hospital-d'
const TARGET = 'patient-target'
/** Other patients with trails of TRAIL entries, for queries the tree cache has not seen. */
const OTHER_TRAILS = 50
/**
 * Of them, those asked once a run (an uncached trail's first query); the rest are kept for
 * the FHIR search of a 100-event trail, one for each run on a kept store (fhir-search.ts).
 */
const OTHERS_ASKED = 40
/** Distinct patients besides the trails (issue 15: 100,000 patients in 1M entries). */
const PATIENTS = 100_000

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** Offset in the stride → other trail k (1..OTHER_TRAILS): k·7919 mod stride, scattered. */
const otherTrailAt = (() => {
  let memo: Map<number, number> | undefined
  return (every: number) => {
    memo ??= new Map(
      Array.from({ length: OTHER_TRAILS }, (_, k) => [((k + 1) * 7919) % every, k + 1]),
    )
    return memo
  }
})()

/**
 * Seed-shaped events in visits of 8; every (ENTRIES / TRAIL)-th is the target patient's, and
 * OTHER_TRAILS more patients have trails as long, each at its own offset in that stride.
 */
function batch(offset: number): AuditEvent[] {
  const every = Math.floor(ENTRIES / TRAIL)
  return Array.from({ length: BATCH }, (_, j) => {
    const i = offset + j
    const visit = Math.floor(i / 8)
    const at = every - 1 - (i % every)
    const other = otherTrailAt(every).get(at)
    const patient =
      at === 0
        ? TARGET
        : other !== undefined
          ? `${TARGET}-${other}`
          : `patient-${(visit * 7919) % PATIENTS}`
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

const LAYOUT = 3

export async function benchQuery(): Promise<Figure[]> {
  const loadStart = loadavg()
  const keepDir = process.env.QUERY_STORE_DIR
  const dir = keepDir ?? (await mkdtemp(join(tmpdir(), 'ehrlog-bench-query-')))
  const kept = keepDir ? await keptStore(keepDir, ENTRIES, LAYOUT) : undefined
  if (keepDir && !kept) {
    await rm(join(keepDir, 'db'), { recursive: true, force: true })
    await mkdir(keepDir, { recursive: true })
  }
  const signers = [...ORIGINS, SELF].map((origin) => ({
    origin,
    privateKey: kept
      ? createPrivateKey({
          key: Buffer.from(kept.signers[origin]!, 'base64'),
          format: 'der',
          type: 'pkcs8',
        })
      : generateKeyPairSync('ed25519').privateKey,
  }))
  const keys = kept
    ? { valueKey: Buffer.from(kept.valueKey, 'hex'), indexKey: Buffer.from(kept.indexKey, 'hex') }
    : { valueKey: randomBytes(32), indexKey: randomBytes(32) }
  const vrfKey = kept ? Buffer.from(kept.vrfKey, 'hex') : randomBytes(32)
  const publicKeys = new Map(signers.map((s) => [s.origin, ed25519RawPublicKey(s.privateKey)]))
  const store = new LogStore({
    path: join(dir, 'db'),
    keys,
    originKey: (o) => publicKeys.get(o),
    ...(process.env.TREE_CACHE_MIN_LEVEL
      ? { treeCache: { minLevel: Number(process.env.TREE_CACHE_MIN_LEVEL) } }
      : {}),
  })
  await store.open()
  const ingest = new IngestQueue({
    store,
    feed: new OwnFeed({
      store,
      signer: signers[3]!,
      gossip: { publish: () => {} },
      logger: silentLogger(),
    }),
  })
  let index: IndexService | undefined
  try {
    const t0 = performance.now()
    if (!kept) {
      let inFlight: Promise<unknown> = Promise.resolve()
      for (let done = 0; done < ENTRIES; done += BATCH) {
        const write = store.appendEvents(signers[(done / BATCH) % ORIGINS.length]!, batch(done))
        await inFlight
        inFlight = write
      }
      await inFlight
      // Random betas for every patient but the target (see the top of this file).
      const others = [...Array(PATIENTS).keys()].map((p) => `patient-${p}`)
      for (let k = 1; k <= OTHER_TRAILS; k++) others.push(`${TARGET}-${k}`)
      for (let i = 0; i < others.length; i += 10_000) {
        await store.patientIndex.putBetas(
          others.slice(i, i + 10_000).map((id) => [store.patientIndex.blind(id), randomBytes(64)]),
        )
      }
      if (keepDir)
        await writeFile(
          join(keepDir, 'bench.json'),
          JSON.stringify(keep(LAYOUT, ENTRIES, keys, vrfKey, signers)),
        )
    }
    const buildSeconds = (performance.now() - t0) / 1000
    // The index as a node builds it at start, then the first checkpoint's roots and commit.
    const indexStart = performance.now()
    index = await IndexService.open(store, vrfKey)
    const indexBuildMs = performance.now() - indexStart
    const feeds = [...ORIGINS, SELF]
    const indexRoots = await Promise.all(feeds.map((o) => index!.rootAt(o, store.size(o))))

    const bls = feeds.map(() => generateBlsSecretKey())
    const networkId = new Uint8Array(randomBytes(32))
    const checkpoint = checkpointOfStore(store, feeds, indexRoots, networkId)
    await index.commit(checkpoint)
    const indexCommitMs = performance.now() - indexStart - indexBuildMs
    const cosigned = cosignedBy3(checkpoint, bls)
    const session = auditorSession(SELF)
    const service = (record: boolean) =>
      new QueryService({
        node: SELF,
        store,
        checkpoints: { latest: () => cosigned },
        auth: { authenticate: () => session },
        rateLimit: { perMinute: 1e9, burst: 1e9 }, // one user asks QUERIES times in a row
        index: index!,
        record: record ? (event) => ingest.submit([event]) : async () => {},
      })
    const request = { filter: { patient: TARGET }, limit: TRAIL, via: 'http' as const }
    /** `fresh`: an empty tree cache (as right after the node starts) for each query. */
    const time = async (make: () => QueryService, fresh = false) => {
      const times: number[] = []
      const cpu: number[] = []
      let answer: QueryAnswerJson | undefined
      let s = make()
      for (let i = 0; i < QUERIES; i++) {
        if (fresh) {
          store.treeCache.forget()
          s = make()
        }
        const c = process.cpuUsage()
        const t = performance.now()
        answer = await s.answerAs(session, request)
        times.push(performance.now() - t)
        cpu.push(cpuMs(process.cpuUsage(c)))
      }
      const warm = Math.floor(QUERIES / 10) // dropped: JIT warm-up
      return { times: times.slice(warm), cpu: cpu.slice(warm), answer: answer!, service: s }
    }
    const served = await time(() => service(true))
    const unrecorded = await time(() => service(false))
    const cold = await time(() => service(true), true)
    // What a node does in the background once started (node.ts): the upper levels of every tree.
    store.treeCache.forget()
    const warmStart = performance.now()
    await store.warmTreeCache()
    const warmUp = { ms: performance.now() - warmStart, bytes: store.treeCache.bytes }
    // Trails the cache has not seen: each other patient's first query, on the warm service.
    const others = { times: [] as number[], cpu: [] as number[] }
    for (let k = 1; k <= OTHERS_ASKED; k++) {
      const c = process.cpuUsage()
      const t = performance.now()
      const other = await served.service.answerAs(session, {
        ...request,
        filter: { patient: `${TARGET}-${k}` },
      })
      others.times.push(performance.now() - t)
      others.cpu.push(cpuMs(process.cpuUsage(c)))
      if (other.entries.length !== TRAIL)
        throw new Error(`trail ${k} has ${other.entries.length} entries`)
    }
    const answer = served.answer
    if (answer.entries.length !== TRAIL)
      throw new Error(`answer has ${answer.entries.length} entries`)

    const trust = {
      keys: {
        networkId: toHex(networkId),
        version: 0,
        versionHash: toHex(networkId),
        quorum: 2,
        blsKeys: bls.map(blsPublicKey),
        ed25519Keys: publicKeys,
        vrfPublicKey: index.vrfPublicKey,
      },
      filter: { patient: TARGET },
    }
    if (!answer.completeness) throw new Error('the answer carries no completeness proof')
    const proofBytes = Buffer.byteLength(JSON.stringify(answer.completeness))
    // A kept store's trail is longer than a page (query-pages.ts): the rest, verified once.
    const later = await laterPages(
      answer,
      (cursor) => unrecorded.service.answerAs(session, { ...request, cursor }),
      (page) => verifyQueryAnswer(page, trust),
    )
    const [verifyTimes, verifyCpu, completenessTimes]: [number[], number[], number[]] = [[], [], []]
    for (let i = 0; i < 60; i++) {
      const c = process.cpuUsage()
      const t = performance.now()
      const result = verifyQueryAnswer(answer, trust)
      const t1 = performance.now()
      const statement = checkAnswerCompleteness({
        keys: trust.keys,
        patientId: TARGET,
        pages: [{ answer, result }, ...later],
      })
      verifyTimes.push(performance.now() - t)
      completenessTimes.push(performance.now() - t1)
      verifyCpu.push(cpuMs(process.cpuUsage(c)))
      if (result.failures.length > 0 || result.verified.length !== TRAIL)
        throw new Error(`verification failed: ${JSON.stringify(result.failures.slice(0, 2))}`)
      const counted = statement.origins.reduce((n, o) => n + o.count, 0)
      const inCut = entriesInCut([{ answer, result }, ...later], checkpoint)
      if (counted !== inCut) throw new Error(`completeness counts ${counted}, not ${inCut}`)
    }
    const verify = verifyTimes.slice(10)
    const browser = await verifyInChromium(answer, later, trust.keys, TARGET, 30)
    // The next page or a cross-check under a checkpoint already verified: no BLS check.
    const warmTrust = { ...trust, verifiedCheckpoints: new Map<string, number[]>() }
    verifyQueryAnswer(answer, warmTrust)
    const warm: number[] = []
    for (let i = 0; i < 60; i++) {
      const t = performance.now()
      verifyQueryAnswer(answer, warmTrust)
      warm.push(performance.now() - t)
    }
    const browserP99 = browser && percentile(browser.times.slice(5), 99)
    // A 100-event trail no query of this store asked about yet (none left: the target's).
    let fresh = TARGET
    for (let k = OTHERS_ASKED + 1; k <= OTHER_TRAILS && fresh === TARGET; k++)
      if ((await store.findByPatient(`${TARGET}-${k}`, TRAIL + 1)).length === TRAIL)
        fresh = `${TARGET}-${k}`
    const fhir = await benchFhirSearch({
      service: served.service,
      unrecorded: unrecorded.service,
      session,
      fresh,
      target: TARGET,
      targetAtCut: entriesInCut(
        [{ answer, result: verifyQueryAnswer(answer, trust) }, ...later],
        checkpoint,
      ),
      queries: Math.min(QUERIES, 100),
      keys: trust.keys,
    })
    const load = loadavg()[0]!
    const p99 = percentile(served.times, 99)
    const verifyP99 = percentile(verify, 99)
    return [
      {
        name: 'store entries',
        value: ENTRIES,
        unit: '',
        note: kept ? `reused from ${keepDir}` : `built in ${buildSeconds.toFixed(0)} s`,
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
        name: 'served p50 / p99, empty tree cache',
        value: percentile(cold.times, 50),
        unit: 'ms',
        note: `p99 ${percentile(cold.times, 99).toFixed(1)} ms, CPU p50 ${percentile(cold.cpu, 50).toFixed(1)} ms: proofs batched, no node cached yet`,
      },
      {
        name: "served p50 / p99, another patient's first query",
        value: percentile(others.times, 50),
        unit: 'ms',
        note: `p99 ${percentile(others.times, 99).toFixed(1)} ms, CPU p50 ${percentile(others.cpu, 50).toFixed(1)} ms: ${OTHERS_ASKED} trails in turn, after the warm-up`,
      },
      {
        name: 'tree cache warm-up (a node does it after start)',
        value: warmUp.ms,
        unit: 'ms',
        note: `${(warmUp.bytes / 2 ** 20).toFixed(1)} MiB: levels >= ${store.treeCache.floor} of every feed; the queries above that ran on an empty cache ran before it`,
      },
      {
        name: 'tree cache after the queries',
        value: store.treeCache.bytes / 1024,
        unit: 'KiB',
        note: `levels >= ${store.treeCache.floor} of the nodes these queries read`,
      },
      {
        name: 'served p50 / p99 without the audit append',
        value: percentile(unrecorded.times, 50),
        unit: 'ms',
        note: `p99 ${percentile(unrecorded.times, 99).toFixed(1)} ms`,
      },
      {
        name: 'index: build at start, then first roots + commit',
        value: indexBuildMs,
        unit: 'ms',
        note: `then ${indexCommitMs.toFixed(0)} ms for the 4 roots and the commit over ${ENTRIES} entries`,
      },
      {
        name: 'completeness proof per origin (JSON, base64)',
        value: proofBytes / feeds.length,
        unit: 'bytes',
        target: '< 8,192',
        meets: proofBytes / feeds.length < 8192,
        note: `${feeds.length} origins`,
      },
      {
        name: 'client verification p50 (entries + completeness)',
        value: percentile(verify, 50),
        unit: 'ms',
      },
      {
        name: 'of it checkAnswerCompleteness, p50 / p99',
        value: percentile(completenessTimes.slice(10), 50),
        unit: 'ms',
        note: `p99 ${percentile(completenessTimes.slice(10), 99).toFixed(1)} ms`,
      },
      browser && browserP99 !== undefined
        ? {
            name: 'browser verification p99 (Chromium, portal bundle)',
            value: browserP99,
            unit: 'ms',
            target: '< 200',
            meets: browserP99 < 200,
            note: `p50 ${percentile(browser.times.slice(5), 50).toFixed(1)} ms, of it completeness p50 ${percentile(browser.completeness.slice(5), 50).toFixed(1)} ms; ${browser.times.length - 5} runs after 5 warm-up`,
          }
        : {
            name: 'browser verification',
            value: 0,
            unit: '',
            note: 'skipped: no /usr/bin/chromium',
          },
      {
        name: 'client verification CPU time p50',
        value: percentile(verifyCpu.slice(10), 50),
        unit: 'ms',
      },
      {
        name: 'client verification p99 (entries + completeness)',
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
      ...fhir,
      {
        name: 'load average at the end',
        value: load,
        unit: '',
        note: `at the start ${loadStart[0]!.toFixed(1)}; wall-clock figures stretch with other work on the machine; CPU times less so`,
      },
    ]
  } finally {
    await ingest.drain()
    await index?.close()
    await store.close()
    if (!keepDir) await rm(dir, { recursive: true, force: true })
  }
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/query\.(ts|mjs)$/)) {
  printFigures('verified queries', await benchQuery())
}
