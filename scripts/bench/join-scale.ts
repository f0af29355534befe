// A hospital joining a network whose replicas hold JOIN_ENTRIES entries (default 1,000,000),
// on real node processes on 127.0.0.1 (`ehrlog node start`, scripts/local-network.ts, the
// node's production defaults: a checkpoint round every 10 s, anti-entropy every ~5 s).
//
// - The three members' folders are seeded offline by checkpoint-seed.ts (each feed appended
//   in its own node's store, copied into the two other replicas with LogStore.acceptBatch:
//   byte-identical replicas, JOIN_PATIENTS patients, default 100,000, the betas pre-seeded
//   with the benchmark's stand-in bytes). JOIN_SCALE_DIR=DIR keeps the seeded folders (and
//   their admins) there and copies them for each later run with the same sizes.
// - The three members start, finish their first scrub (replica verified, index checked) and
//   cosign a checkpoint; then hospital-d is created as its IT team would (`ehrlog init`, the
//   genesis network.json and index.key copied in, `ehrlog user create`), added through the
//   governance (`ehrlog network propose add … --node A` by hospital-a's admin, `ehrlog network
//   sign ID --node B` by hospital-b's: 2 of 3), and, once every member applied the change at a
//   checkpoint cut, started as its own process from the genesis network.json.
// - Timed from its spawn until its `GET /api/v1/status` (polled every 200 ms) shows every feed
//   at the sizes the members held when it started (no new events are posted meanwhile): the
//   chain fetched and verified, every entry pulled, verified (signatures, chain, Merkle roots),
//   stored and indexed. Then: its peak RSS (VmHWM), its CPU, and the time until a cosigned
//   checkpoint at the new version carries its BLS signature (it cosigns).
//
// hospital-d's beta cache is pre-seeded with the same stand-in bytes as the members' (see
// checkpoint-seed.ts): with real VRF outputs its index roots would differ from the members'
// stand-ins and it could not cosign; computing 100,000 real ones would cost ~500 s of VRF
// work that a real network does once per patient ever, not at a join.
//
// `node --import tsx scripts/bench/join-scale.ts`, or BENCH=join-scale in `npm run bench`.
import '../../node/shim.ts'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { signerIndexes } from '../../node/core/checkpoint.ts'
import { fromHex } from '../../node/core/hex.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { MembershipHistory } from '../../node/core/trust/membership-history.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { storeOfNode } from '../../node/node-store.ts'
import {
  type Admin,
  adminOfNode,
  createAdmin,
  logIn,
  membershipAt,
  propose,
  sign,
} from '../governance-cli.ts'
import { initNetwork } from '../in-process-network.ts'
import { spawnNode } from '../local-network.ts'
import { type Hospital, prepareJoiningFolder } from './bench-nodes.ts'
import { benchBeta, seedNetwork } from './checkpoint-seed.ts'
import { type Figure, printFigures } from './report.ts'

const ENTRIES = Number(process.env.JOIN_ENTRIES ?? 1_000_000)
const PATIENTS = Number(process.env.JOIN_PATIENTS ?? 100_000)
const SEED_LAYOUT = 1
/** The longest wait for any one step (starts at 1M entries take minutes on a loaded machine). */
const GIVE_UP_MS = 1_800_000
const FAST_KDF = { N: 2 ** 10, r: 8, p: 1 }
const NEW = 'hospital-d'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
const t00 = performance.now()
const say = (line: string) =>
  process.stderr.write(
    `[join at scale +${((performance.now() - t00) / 1000).toFixed(0)} s] ${line} (load ${load()})\n`,
  )

/** Polls every `everyMs` until `check` holds; the time it took (ms) from `t0`. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  everyMs: number,
  t0 = performance.now(),
): Promise<number> {
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - t0
    if (performance.now() - t0 > GIVE_UP_MS) throw new Error(`gave up waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** origin → size at a running node, from GET /api/v1/status. */
async function sizesAt(http: string): Promise<Map<string, number>> {
  const res = await fetch(`${http}/api/v1/status`, { signal: AbortSignal.timeout(10_000) })
  const body = (await res.json()) as { feeds: Array<{ origin: string; size: number }> }
  return new Map(body.feeds.map((f) => [f.origin, f.size]))
}

/** The node's first scrub is over (GET /metrics from loopback, no token needed). */
async function scrubbed(http: string): Promise<boolean> {
  const text = await (await fetch(`${http}/metrics`)).text()
  return Number(text.match(/^ehrlog_scrub_duration_seconds_count\s+(\d+)/m)?.[1] ?? 0) > 0
}

/**
 * The names that signed the node's latest cosigned checkpoint, and its membership version
 * (the signer bitmap read against that version's members, in the order the chain keeps).
 */
async function latestSigners(
  http: string,
  genesis: unknown,
): Promise<{ version: number; signers: string[] } | undefined> {
  const res = await fetch(`${http}/api/v1/checkpoint`, { signal: AbortSignal.timeout(10_000) })
  if (res.status !== 200) {
    await res.body?.cancel()
    return undefined
  }
  const { cosigned } = (await res.json()) as {
    cosigned: { checkpoint: { membership: { version: number } }; signers: string }
  }
  const chain = (await (await fetch(`${http}/api/v1/membership`)).json()) as { changes: unknown[] }
  const history = MembershipHistory.fromChain(genesis, chain.changes)
  const version = cosigned.checkpoint.membership.version
  const members = history.at(version)!.members
  const indexes = signerIndexes(fromHex(cosigned.signers) as Uint8Array, members.length)
  return { version, signers: indexes.map((i) => members[i]!.name) }
}

/** Peak RSS (VmHWM) and CPU seconds (user + system) of a process, from /proc. */
async function usageOf(pid: number): Promise<{ peakMiB: number; cpuS: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
  const ticks = Number(stat[11]) + Number(stat[12])
  return {
    peakMiB: Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024,
    cpuS: ticks / 100,
  }
}

/** Three seeded member folders with their admins, in `dir` (kept with its sizes) or made there. */
async function seeded(dir: string): Promise<void> {
  const marker = join(dir, 'seeded.json')
  const kept = await readFile(marker, 'utf8').catch(() => undefined)
  if (kept) {
    const k = JSON.parse(kept) as { entries: number; patients: number; layout: number }
    if (k.entries === ENTRIES && k.patients === PATIENTS && k.layout === SEED_LAYOUT) return
  }
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const { dirs, membership } = await initNetwork(join(dir, 'net'), 3)
  for (const d of dirs) {
    const name = d.split('/').at(-1)!
    await createAdmin(adminOf(dir, name), d, `Admin of ${name}`)
  }
  const t0 = performance.now()
  await seedNetwork(dirs, membership, ENTRIES, PATIENTS, say)
  say(`seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  await writeFile(
    marker,
    JSON.stringify({ entries: ENTRIES, patients: PATIENTS, layout: SEED_LAYOUT }),
  )
}

function adminOf(root: string, name: string): Admin {
  return adminOfNode(join(root, 'cli'), name, `pw of admin@${name}`, FAST_KDF)
}

/** hospital-d's beta cache: the members' stand-in bytes (see the header). */
async function seedBetas(dir: string, genesis: Membership): Promise<void> {
  const node = await openNodeDir(dir)
  const store = storeOfNode(node, genesis.ed25519Keys())
  await store.open()
  try {
    const ids = Array.from({ length: PATIENTS }, (_, p) => `patient-${p}`)
    for (let i = 0; i < ids.length; i += 10_000) {
      await store.patientIndex.putBetas(
        ids.slice(i, i + 10_000).map((id) => [store.patientIndex.blind(id), benchBeta(id)]),
      )
    }
  } finally {
    await store.close()
  }
}

export async function benchJoinAtScale(): Promise<Figure[]> {
  const work = await mkdtemp(join(tmpdir(), 'ehrlog-bench-join-scale-'))
  const keep = process.env.JOIN_SCALE_DIR
  const seedDir = keep ?? join(work, 'seed')
  const hospitals: Hospital[] = []
  const loads = [load()]
  say(`start: ${ENTRIES} entries, ${PATIENTS} patients`)
  try {
    const t0 = performance.now()
    await seeded(seedDir)
    if (keep) await cp(join(keep, 'net'), join(work, 'net'), { recursive: true })
    else await cp(join(seedDir, 'net'), join(work, 'net'), { recursive: true })
    if (!keep) await rm(seedDir, { recursive: true, force: true })
    const seedS = (performance.now() - t0) / 1000
    say(`seeded network ready in ${seedS.toFixed(0)} s`)
    const genesisText = await readFile(join(work, 'net', 'network.json'), 'utf8')
    const genesis = JSON.parse(genesisText)
    const names = ['hospital-a', 'hospital-b', 'hospital-c']
    for (const name of names)
      hospitals.push({ name, dir: join(work, 'net', name), admin: adminOf(work, name) })
    const [a, b, c] = hospitals as [Hospital, Hospital, Hospital]

    const t1 = performance.now()
    await Promise.all(
      hospitals.map(async (h) => {
        h.process = await spawnNode(h.dir, {
          logFile: join(work, `${h.name}.log`),
          timeoutMs: GIVE_UP_MS,
        })
      }),
    )
    const membersStartS = (performance.now() - t1) / 1000
    say(`members serving after ${membersStartS.toFixed(0)} s`)
    await until(
      'the members to finish their first scrub',
      async () =>
        (await Promise.all(hospitals.map((h) => scrubbed(h.process!.info.http)))).every(Boolean),
      1000,
    )
    await until(
      'a cosigned checkpoint',
      async () => (await latestSigners(a.process!.info.http, genesis)) !== undefined,
      1000,
    )
    const membersReadyS = (performance.now() - t1) / 1000
    say(`members scrubbed and cosigning after ${membersReadyS.toFixed(0)} s`)
    loads.push(load())

    // hospital-d, as its IT team makes it.
    const d: Hospital = { name: NEW, dir: join(work, NEW), admin: adminOf(work, NEW) }
    await prepareJoiningFolder(d, join(work, 'net', 'network.json'), join(a.dir, 'index.key'))
    await seedBetas(d.dir, Membership.parse(genesisText))

    // The add: proposed at a, signed at b (2 of 3), applied by every member at a cut.
    await logIn(a.admin, a.process!.info.http)
    await logIn(b.admin, b.process!.info.http)
    const before = (await membershipAt(a.process!.info.http, genesis)).version
    const tAdd = performance.now()
    const id = await propose(a.admin, a.process!.info.http, ['add', join(d.dir, 'identity.json')])
    await sign(b.admin, b.process!.info.http, id)
    const appliedMs = await until(
      'the add applied at a, b, c',
      async () =>
        (
          await Promise.all([a, b, c].map((h) => membershipAt(h.process!.info.http, genesis)))
        ).every((s) => s.version === before + 1 && s.members.includes(NEW)),
      100,
      tAdd,
    )
    say(`add applied at a, b, c ${(appliedMs / 1000).toFixed(1)} s after the proposal`)

    const target = await sizesAt(a.process!.info.http)
    for (const h of [b, c]) {
      const other = await sizesAt(h.process!.info.http)
      for (const [origin, size] of target)
        if (other.get(origin) !== size)
          throw new Error(`${h.name} holds ${origin} at ${other.get(origin)}, a at ${size}`)
    }
    const entries = [...target.values()].reduce((x, y) => x + y, 0)
    loads.push(load())
    const loadAtJoin = loadavg()[0]!
    say(`starting ${NEW}: ${entries} entries to catch up`)
    const t2 = performance.now()
    d.process = await spawnNode(d.dir, {
      logFile: join(work, `${NEW}.log`),
      timeoutMs: GIVE_UP_MS,
    })
    hospitals.push(d)
    const servingMs = performance.now() - t2
    const pid = d.process.child.pid!
    let lastLog = performance.now()
    const progress: string[] = []
    const joinMs = await until(
      `${NEW} to hold every feed`,
      async () => {
        const held = await sizesAt(d.process!.info.http)
        if (performance.now() - lastLog > 30_000) {
          lastLog = performance.now()
          const n = [...held.values()].reduce((x, y) => x + y, 0)
          const line = `${((lastLog - t2) / 1000).toFixed(0)} s: ${n} entries`
          progress.push(line)
          say(`${NEW} at ${line}`)
        }
        return [...target].every(([origin, size]) => (held.get(origin) ?? 0) >= size)
      },
      200,
      t2,
    )
    const loadAfterJoin = loadavg()[0]!
    const usage = await usageOf(pid)
    say(`${NEW} holds every feed after ${(joinMs / 1000).toFixed(1)} s`)
    loads.push(load())

    // It cosigns: rounds asked (POST /api/v1/checkpoint with the node's API token, what
    // `ehrlog checkpoint --run` sends) alternately at hospital-d (its own proposal: signed by
    // it and 2 members, quorum 3 of 4 after the add) and at hospital-a (hospital-d among the
    // signers when it judged the cut in time), until a cosigned checkpoint names hospital-d
    // as a signer. The scheduled rounds do not serve here: no feed grows, so none is due.
    const t3 = performance.now()
    let cosignedMs = Number.NaN
    let cosignNote = ''
    for (let attempt = 1; attempt <= 4 && Number.isNaN(cosignedMs); attempt++) {
      const at = attempt % 2 === 1 ? d : a
      const { apiToken } = JSON.parse(await readFile(join(at.dir, 'config.json'), 'utf8'))
      const t = performance.now()
      const res = await fetch(`${at.process!.info.http}/api/v1/checkpoint`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(120_000),
      }).catch((err: Error) => err)
      const took = `${((performance.now() - t) / 1000).toFixed(1)} s`
      if (res instanceof Error || res.status !== 201) {
        const why = res instanceof Error ? res.message : `${res.status} ${await res.text()}`
        cosignNote += `round at ${at.name}: ${why.slice(0, 120)} after ${took}; `
        continue
      }
      const { cosigned } = (await res.json()) as { cosigned: { signers: string } }
      const members = (await membershipAt(a.process!.info.http, genesis)).members
      const history = MembershipHistory.fromChain(
        genesis,
        (
          (await (await fetch(`${a.process!.info.http}/api/v1/membership`)).json()) as {
            changes: unknown[]
          }
        ).changes,
      )
      const order = history.current.members.map((m) => m.name)
      const signers = signerIndexes(fromHex(cosigned.signers) as Uint8Array, members.length).map(
        (i) => order[i]!,
      )
      cosignNote += `round at ${at.name}: cosigned in ${took} by ${signers.join(', ')}; `
      if (signers.includes(NEW)) cosignedMs = performance.now() - t3
    }
    say(`${NEW} cosigns: ${cosignNote}`)
    const usageEnd = await usageOf(pid)
    loads.push(load())

    return [
      {
        name: `joining node's catch-up, ${entries.toLocaleString('en')} entries, from its process start`,
        value: entries / (joinMs / 1000),
        unit: 'entries/s',
        note: `${(joinMs / 1000).toFixed(1)} s (serving HTTP after ${(servingMs / 1000).toFixed(1)} s); load (1 min) ${loadAtJoin.toFixed(2)} at its start, ${loadAfterJoin.toFixed(2)} when done`,
      },
      {
        name: '  the same, after it serves',
        value: entries / ((joinMs - servingMs) / 1000),
        unit: 'entries/s',
      },
      {
        name: "  joining process's peak RSS (VmHWM) when caught up",
        value: usage.peakMiB,
        unit: 'MiB',
        note: `${usageEnd.peakMiB.toFixed(0)} MiB after it cosigned`,
      },
      {
        name: "  joining process's CPU during the catch-up",
        value: usage.cpuS / (joinMs / 1000),
        unit: 'cores',
        note: `${usage.cpuS.toFixed(1)} s of CPU (user + system); progress ${progress.join('; ') || '-'}`,
      },
      {
        name: `  caught up -> a cosigned checkpoint with ${NEW} among its signers`,
        value: cosignedMs / 1000,
        unit: 's',
        note: cosignNote,
      },
      {
        name: '  (context) proposal -> add applied at a, b, c',
        value: appliedMs / 1000,
        unit: 's',
        note: 'proposed at a, signed at b; applied at the next scheduled round (every 10 s)',
      },
      {
        name: '  (context) members start -> scrubbed and cosigning',
        value: membersReadyS,
        unit: 's',
        note: `serving HTTP after ${membersStartS.toFixed(0)} s`,
      },
      { name: '  (context) seeding or copying the kept seed', value: seedS, unit: 's' },
      {
        name: '  load averages (1/5/15 min): start, members ready, d started, d caught up, end',
        value: 0,
        unit: loads.join(', '),
        note: '2 cores shared with other work',
      },
    ]
  } finally {
    await Promise.allSettled(hospitals.map((h) => h.process?.stop(20_000)))
    // KEEP_LOGS=DIR keeps the nodes' logs and folders, without their stores (diagnosis).
    if (process.env.KEEP_LOGS)
      await cp(work, process.env.KEEP_LOGS, { recursive: true, filter: (f) => !f.includes('/db') })
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[1]?.match(/join-scale\.(ts|mjs)$/)) {
  printFigures('a hospital joining at scale, real node processes', await benchJoinAtScale())
}
