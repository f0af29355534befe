// Benchmark of governed membership changes (issue 16), on real node processes on 127.0.0.1
// (`ehrlog node start`, scripts/local-network.ts), changes made by the admins through the CLI
// (`ehrlog network propose | sign --node URL`, scripts/governance-cli.ts):
// - the time from a change's last signature to every one of 3 nodes applying it: at the next
//   scheduled checkpoint round (the defined cut, every 10 s by default), and with a round
//   asked right after the signature (`ehrlog checkpoint --run`), which is the mechanics alone;
// - a joining hospital's catch-up at JOIN_ENTRIES entries (default 1,000,000): seeded fast
//   into hospital-a's own feed offline (LogStore.appendEvents, as the store benchmark does),
//   replicated to b and c by sync, then hospital-d is added, started with the genesis
//   network.json (a folder no version lists starts as joining), and timed until it holds every feed.
// CHANGE_RUNS (default 4) changes are timed at the cut, ASKED_RUNS (default 2) with a round
// asked; each alternates the quorum between 3 and 2 of the 3 members.
import '../../node/shim.ts'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { localNodeName } from '../../client/commands/network.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { storeOfNode } from '../../node/node-store.ts'
import { adminOfNode, createAdmin, logIn, membershipAt, propose, sign } from '../governance-cli.ts'
import { spawnNode } from '../local-network.ts'
import { cli, type Hospital, prepareJoiningFolder } from './bench-nodes.ts'
import { type Figure, printFigures } from './report.ts'
import { seedEvent } from './seed-events.ts'

const JOIN_ENTRIES = Number(process.env.JOIN_ENTRIES ?? 1_000_000)
const CHANGE_RUNS = Number(process.env.CHANGE_RUNS ?? 4)
const ASKED_RUNS = Number(process.env.ASKED_RUNS ?? 2)
const SEED_BATCH = 1000
/** Patients of the seeded events: few, so the index's VRF work at the nodes stays small. */
const SEED_PATIENTS = 1000
const GIVE_UP_MS = 900_000
const FAST_KDF = { N: 2 ** 10, r: 8, p: 1 }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Progress on stderr (the figures go to stdout). */
const progress = (line: string) => process.stderr.write(`membership bench: ${line}\n`)

/** origin → size at a running node, from GET /api/v1/status. */
async function sizesAt(http: string): Promise<Map<string, number>> {
  const res = await fetch(`${http}/api/v1/status`, { signal: AbortSignal.timeout(10_000) })
  const body = (await res.json()) as { feeds: Array<{ origin: string; size: number }> }
  return new Map(body.feeds.map((f) => [f.origin, f.size]))
}

/** Polls every `everyMs` until `check` holds; the time it took (ms). */
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

async function holdsAll(http: string, target: Map<string, number>): Promise<boolean> {
  const held = await sizesAt(http)
  return [...target].every(([origin, size]) => (held.get(origin) ?? 0) >= size)
}

/** JOIN_ENTRIES events into the stopped hospital's own feed, signed with its key. */
async function seedOwnFeed(dir: string): Promise<number> {
  const node = await openNodeDir(dir)
  const store = storeOfNode(node)
  await store.open()
  const t0 = performance.now()
  try {
    const signer = { origin: node.config.name, privateKey: node.signingKey }
    for (let i = 0; i < JOIN_ENTRIES; i += SEED_BATCH) {
      const count = Math.min(SEED_BATCH, JOIN_ENTRIES - i)
      const events = Array.from({ length: count }, (_, j) =>
        seedEvent(i + j, `patient-${(i + j) % SEED_PATIENTS}`),
      )
      await store.appendEvents(signer, events, new Date(Date.UTC(2024, 0, 1) + i))
    }
  } finally {
    await store.close()
  }
  return performance.now() - t0
}

/** Proposes a quorum change at `by`, signs it at `signers`; times its application at `all`. */
async function timeQuorumChange(
  by: Hospital,
  signers: Hospital[],
  all: Hospital[],
  quorum: number,
  askRound: boolean,
  genesis: unknown,
): Promise<number> {
  const before = (await membershipAt(by.process!.info.http, genesis)).version
  const id = await propose(by.admin, by.process!.info.http, ['quorum', String(quorum)])
  for (const s of signers) await sign(s.admin, s.process!.info.http, id)
  const t0 = performance.now() // the last signature is in: the change is accepted
  if (askRound) {
    // POST /api/v1/checkpoint (what `ehrlog checkpoint --run` sends), its answer not verified
    // here: the CLI reads the changes before the round that applies the new one.
    const { apiToken } = JSON.parse(await readFile(join(by.dir, 'config.json'), 'utf8'))
    await fetch(`${by.process!.info.http}/api/v1/checkpoint`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: '{}',
    }).then((r) => r.body?.cancel())
  }
  return until(
    `version ${before + 1} at every node`,
    async () => {
      const seen = await Promise.all(all.map((h) => membershipAt(h.process!.info.http, genesis)))
      return seen.every((s) => s.version === before + 1)
    },
    20,
    t0,
  )
}

/**
 * JOIN_SEED_DIR=DIR keeps the seeded network (3 stopped node folders, hospital-a's feed
 * seeded, admins made) in DIR and reuses it on the next run with the same JOIN_ENTRIES:
 * seeding 1M entries takes minutes on a loaded machine (DIR/seeded.json says how many). A
 * kept network whose b and c already replicated the seed may be kept there too.
 */
async function keptSeed(): Promise<string | undefined> {
  const dir = process.env.JOIN_SEED_DIR
  if (!dir) return undefined
  const marker = await readFile(join(dir, 'seeded.json'), 'utf8').catch(() => undefined)
  return marker && (JSON.parse(marker) as { entries: number }).entries === JOIN_ENTRIES
    ? dir
    : undefined
}

async function keepSeed(net: string): Promise<void> {
  const dir = process.env.JOIN_SEED_DIR
  if (!dir) return
  await rm(dir, { recursive: true, force: true })
  await cp(net, dir, { recursive: true })
  await writeFile(join(dir, 'seeded.json'), `${JSON.stringify({ entries: JOIN_ENTRIES })}\n`)
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export async function benchMembership(): Promise<Figure[]> {
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-bench-membership-'))
  const hospitals: Hospital[] = []
  const stopAll = () => Promise.allSettled(hospitals.map((h) => h.process?.stop(20_000)))
  try {
    const kept = await keptSeed()
    if (kept) {
      await cp(kept, join(root, 'net'), { recursive: true })
      progress(`reusing the seeded network in ${kept} (JOIN_SEED_DIR)`)
    } else {
      const basePort = 10_000 + Math.floor(Math.random() * 900) * 10
      await cli([
        'network',
        'init',
        '--dir',
        join(root, 'net'),
        '--nodes',
        '3',
        '--base-port',
        String(basePort),
      ])
    }
    for (let i = 0; i < 3; i++) {
      const name = localNodeName(i)
      const h: Hospital = {
        name,
        dir: join(root, 'net', name),
        admin: adminOfNode(join(root, 'cli'), name, `pw of admin@${name}`, FAST_KDF),
      }
      if (!kept) await createAdmin(h.admin, h.dir, `Admin of ${name}`)
      hospitals.push(h)
    }
    const [a, b, c] = hospitals as [Hospital, Hospital, Hospital]
    const genesis = JSON.parse(await readFile(join(root, 'net', 'network.json'), 'utf8'))
    let seedMs = Number.NaN
    if (!kept) {
      seedMs = await seedOwnFeed(a.dir)
      progress(`seeded ${JOIN_ENTRIES} entries into hospital-a in ${(seedMs / 1000).toFixed(1)} s`)
      await keepSeed(join(root, 'net'))
    }
    const load = loadavg()[0]!
    for (const h of hospitals)
      h.process = await spawnNode(h.dir, { logFile: join(root, `${h.name}.log`) })
    const seeded = new Map([[a.name, JOIN_ENTRIES]])
    const replicaMs = await until(
      'b and c to replicate the seed',
      async () =>
        (await holdsAll(b.process!.info.http, seeded)) && holdsAll(c.process!.info.http, seeded),
      500,
    )
    progress(`b and c replicated them in ${(replicaMs / 1000).toFixed(1)} s`)
    for (const h of hospitals) await logIn(h.admin, h.process!.info.http)

    // Last signature -> applied at all 3, at the scheduled cut and with a round asked.
    const atCut: number[] = []
    const asked: number[] = []
    let quorum = 2
    for (let r = 0; r < CHANGE_RUNS + ASKED_RUNS; r++) {
      const next = quorum === 2 ? 3 : 2
      // Signed by a quorum of the version it changes: 2 of 3, or all 3 under quorum 3.
      const signers = quorum === 3 ? [b, c] : [b]
      const ms = await timeQuorumChange(a, signers, hospitals, next, r >= CHANGE_RUNS, genesis)
      ;(r >= CHANGE_RUNS ? asked : atCut).push(ms)
      progress(
        `quorum ${next}: applied at all 3 nodes ${ms.toFixed(0)} ms after the last signature`,
      )
      quorum = next
    }

    // Back to a quorum a fourth member keeps valid (3 of 4: a majority), not timed.
    if (quorum === 2) {
      await timeQuorumChange(a, [b], hospitals, 3, true, genesis)
      quorum = 3
    }
    // A fourth hospital joins: added, then started on the genesis (joining).
    const d: Hospital = {
      name: 'hospital-d',
      dir: join(root, 'hospital-d'),
      admin: adminOfNode(join(root, 'cli'), 'hospital-d', 'pw of admin@hospital-d', FAST_KDF),
    }
    await prepareJoiningFolder(d, join(root, 'net', 'network.json'), join(a.dir, 'index.key'))
    const signers = quorum === 3 ? [b, c] : [b]
    const id = await propose(a.admin, a.process!.info.http, ['add', join(d.dir, 'identity.json')])
    for (const s of signers) await sign(s.admin, s.process!.info.http, id)
    const version = (await membershipAt(a.process!.info.http, genesis)).version + 1
    await until(
      'the add applied at a, b, c',
      async () =>
        (
          await Promise.all(hospitals.map((h) => membershipAt(h.process!.info.http, genesis)))
        ).every((s) => s.version === version),
      100,
    )
    const target = await sizesAt(a.process!.info.http)
    const entries = [...target.values()].reduce((x, y) => x + y, 0)
    const t0 = performance.now()
    d.process = await spawnNode(d.dir, { logFile: join(root, `${d.name}.log`) })
    hospitals.push(d)
    const servingMs = performance.now() - t0
    const joinMs = await until(
      'hospital-d to hold every feed',
      () => holdsAll(d.process!.info.http, target),
      200,
      t0,
    )
    const loadEnd = loadavg()[0]!
    const rss = Number(
      (await readFile(`/proc/${d.process.child.pid}/status`, 'utf8').catch(() => '')).match(
        /VmHWM:\s+(\d+)/,
      )?.[1] ?? 0,
    )

    const each = (xs: number[]) => `runs: ${xs.map((x) => x.toFixed(0)).join(', ')} ms`
    return [
      {
        name: 'last signature -> applied at all 3 nodes, at the next scheduled round',
        value: median(atCut),
        unit: 'ms',
        note: `${each(atCut)}; rounds every 10 s (the node's default), so up to one interval of waiting`,
      },
      {
        name: 'last signature -> applied at all 3 nodes, round asked at once',
        value: median(asked),
        unit: 'ms',
        note: `${each(asked)}; \`ehrlog checkpoint --run\` right after the signature`,
      },
      {
        name: `joining node's catch-up, ${entries.toLocaleString('en')} entries`,
        value: entries / (joinMs / 1000),
        unit: 'entries/s',
        note: `from its process start: ${(joinMs / 1000).toFixed(1)} s (serving after ${(servingMs / 1000).toFixed(1)} s); after it serves: ${(entries / ((joinMs - servingMs) / 1000)).toFixed(0)} entries/s; peak RSS ${(rss / 1024).toFixed(0)} MiB`,
      },
      {
        name: '  (context) seeding hospital-a offline',
        value: JOIN_ENTRIES / (seedMs / 1000),
        unit: 'entries/s',
        note: kept ? 'reused from JOIN_SEED_DIR' : 'LogStore.appendEvents, batches of 1,000',
      },
      {
        name: '  (context) b and c replicating the seed at once',
        value: (2 * JOIN_ENTRIES) / (replicaMs / 1000),
        unit: 'entries/s',
        note: kept
          ? 'the kept network (JOIN_SEED_DIR) may hold their replicas already: not a measure then'
          : `both replicas done after ${(replicaMs / 1000).toFixed(1)} s`,
      },
      {
        name: 'load average (1 min) at start',
        value: load,
        unit: '',
        note: `2 cores; at the end ${loadEnd.toFixed(2)}`,
      },
    ]
  } finally {
    await stopAll()
    // KEEP_LOGS=DIR keeps the nodes' logs and folders, without their stores (diagnosis).
    if (process.env.KEEP_LOGS)
      await cp(root, process.env.KEEP_LOGS, { recursive: true, filter: (f) => !f.includes('/db') })
    await rm(root, { recursive: true, force: true })
  }
}

// Run directly (node --import tsx scripts/bench/membership.ts), not when bundled into the bench
// entry (dist/bench/index.mjs), where import.meta.url is the bundle's own URL.
if (process.argv[1]?.match(/\/membership\.(ts|mjs)$/)) {
  printFigures('membership changes, real node processes', await benchMembership())
}
