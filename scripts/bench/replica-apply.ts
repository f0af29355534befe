// Micro-benchmark of a replica's apply path (issue 17): the CPU one process spends per
// gossiped entry from a gossip message's bytes to the entry on disk (decodeGossipMessage,
// then LogStore.acceptBatch: head signature, entry decoding and checks, chain, root, sealing,
// indexes, LevelDB write), split by thread as the syslog benchmark splits it. The entries are
// the syslog benchmark's: ATNA messages (~2 KiB entries) of a pool of 10,000 patients,
// appended by an origin store in batches and gossiped as the origin's node would.
//   node --import tsx scripts/bench/replica-apply.ts   (REPLICA_ENTRIES, REPLICA_BATCH, REPLICA_ROUNDS;
//   REPLICA_PROFILE=file.cpuprofile: the main thread's CPU profile of the rounds alone)
import '../../node/shim.ts'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventsOfAuditMessage } from '../../node/atna/audit-message.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import {
  decodeGossipMessage,
  encodeBatchRecord,
  encodeGossipMessage,
} from '../../node/net/batch-codec.ts'
import { LogStore } from '../../node/store/index.ts'
import { drawPatients, message } from './syslog-load.ts'
import { threadCpuUs, threadIds, threadKindsAtStart } from './thread-kinds.ts'

const ENTRIES = Number(process.env.REPLICA_ENTRIES ?? 20_000)
const BATCH = Number(process.env.REPLICA_BATCH ?? 100)
const ROUNDS = Number(process.env.REPLICA_ROUNDS ?? 3)

/** CPU of each thread of this process (utime + stime), µs, by thread id. */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>()
  for (const tid of threadIds()) {
    const us = threadCpuUs(tid)
    if (us !== undefined) out.set(tid, us)
  }
  return out
}
const kindsAtStart = await threadKindsAtStart()

function xmlOf(i: number, patient: string): Buffer {
  const frame = message(i, patient)
  return frame.subarray(frame.indexOf('<?xml'))
}

async function main(): Promise<void> {
  const { privateKey } = generateKeyPairSync('ed25519')
  const origin = 'hospital-a'
  const signer = { origin, privateKey }
  const publicKey = ed25519RawPublicKey(privateKey)
  const keys = () => ({
    valueKey: new Uint8Array(randomBytes(32)),
    indexKey: new Uint8Array(randomBytes(32)),
  })
  const dir = await mkdtemp(join(tmpdir(), 'replica-apply-'))
  const source = new LogStore({ path: join(dir, 'a'), keys: keys(), originKey: () => publicKey })
  await source.open()
  const pool = Array.from({ length: 10_000 }, (_, i) => `PAT-${100_000 + i}`)
  const patients = drawPatients(pool, ENTRIES)
  const messages: Uint8Array[] = []
  for (let i = 0; i < ENTRIES; i += BATCH) {
    const events = patients
      .slice(i, i + BATCH)
      .flatMap((p, j) => eventsOfAuditMessage(xmlOf(i + j, p)))
    const { entries, head } = await source.appendEvents(signer, events)
    const record = encodeBatchRecord({ origin, head, entries: entries.map((e) => e.bytes) })
    messages.push(encodeGossipMessage([record]))
  }
  await source.close()
  const entryBytes = messages.reduce((n, m) => n + m.byteLength, 0) / ENTRIES
  console.log(
    `${ENTRIES} entries of ~${Math.round(entryBytes)} bytes in batches of ${BATCH}; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  const profile = process.env.REPLICA_PROFILE
  const session = profile ? new Session() : undefined
  session?.connect()
  await session?.post('Profiler.enable')
  await session?.post('Profiler.start')
  for (let round = 0; round < ROUNDS; round++) {
    const replica = new LogStore({
      path: join(dir, `r${round}`),
      keys: keys(),
      originKey: () => publicKey,
    })
    await replica.open()
    const before = threadCpu()
    const usage = process.cpuUsage()
    const started = performance.now()
    // As the gossip validator does: each message decoded, its batches handed over in order.
    const pending: Promise<unknown>[] = []
    for (const m of messages) {
      for (const batch of decodeGossipMessage(m)) pending.push(replica.acceptBatch(batch))
      if (pending.length >= 8) await pending.shift()
    }
    await Promise.all(pending)
    await replica.close()
    const wallMs = performance.now() - started
    const after = threadCpu()
    const { user, system } = process.cpuUsage(usage)
    const by = { main: 0, v8: 0, libuv: 0, other: 0 }
    for (const [tid, us] of after)
      by[kindsAtStart.get(tid) ?? 'other'] += us - (before.get(tid) ?? 0)
    const { main, v8, libuv, other: workers } = by
    const per = (us: number) => (us / ENTRIES).toFixed(1)
    console.log(
      `round ${round + 1}: ${per(user + system)} µs CPU/entry (process.cpuUsage), by thread ${per(main + v8 + libuv + workers)} = main ${per(main)} + workers ${per(workers)} + V8 ${per(v8)} + libuv ${per(libuv)}; ${Math.round((ENTRIES / wallMs) * 1000)} entries/s`,
    )
  }
  if (session && profile) {
    const { profile: taken } = await session.post('Profiler.stop')
    writeFileSync(profile, JSON.stringify(taken))
  }
  await rm(dir, { recursive: true, force: true })
}

await main()
