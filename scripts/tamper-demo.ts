// `npm run tamper-demo`: what happens when someone edits a hospital's audit database.
// Three local nodes; hospital-b is stopped and one entry of hospital-a's feed is changed in
// b's LevelDB, as an insider with disk access could; b restarts, finds it, repairs it from
// a peer, and the alert email lands in b's outbox. Everything runs in a temp folder.
import '../node/shim.ts'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../client/main.ts'
import { parseEvent } from '../node/core/event.ts'
import { openNodeDir } from '../node/identity/index.ts'
import { silentLogger } from '../node/logger.ts'
import { EhrlogNode } from '../node/node.ts'
import { demoEvents } from './demo-data.ts'
import { Tamperer } from './tamper.ts'

const step = (text: string) => console.log(`\n== ${text}`)

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function run(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-tamper-demo-'))
  const start = (dir: string) => {
    const node = new EhrlogNode({
      dir,
      logger: silentLogger(),
      checkpointIntervalMs: 0,
      syncIntervalMs: 1000,
    })
    return node.start().then(() => node)
  }
  const nodes: EhrlogNode[] = []
  try {
    step("a 3-node network with the prototype's rows of john_cena at hospital-a")
    await main(
      [
        'network',
        'init',
        '--dir',
        root,
        '--nodes',
        '3',
        '--base-port',
        String(24000 + Math.floor(Math.random() * 500) * 8),
      ],
      { out: () => {}, err: (t) => process.stderr.write(t), env: {} },
    )
    const dirs = ['hospital-a', 'hospital-b', 'hospital-c'].map((n) => join(root, n))
    for (const dir of dirs) nodes.push(await start(dir))
    const [a] = nodes as [EhrlogNode]
    await a.ingest.submit(demoEvents()[0]!.map((e) => parseEvent(e)))
    await waitFor(() => nodes.every((n) => n.store.size('hospital-a') === 8))
    const cosigned = await a.checkpoints.runRound()
    console.log(
      `8 entries replicated; checkpoint cosigned by ${cosigned.signers.reduce((n, b) => n + b.toString(2).split('1').length - 1, 0)} of 3 nodes`,
    )

    step(
      'hospital-b is stopped; an insider edits entry hospital-a:8 ("User bill was modified") in b\'s database',
    )
    await nodes[1]!.stop()
    const identity = await openNodeDir(dirs[1]!)
    const t = new Tamperer(
      join(dirs[1]!, identity.config.dataDir),
      identity.storeKeys,
      'hospital-a',
    )
    await t.open()
    await t.rewriteNotes(8, 'nothing to see here')
    await t.close()
    const offline = await captured(['verify', '--dir', dirs[1]!])
    console.log(offline.trim().split('\n').slice(0, 3).join('\n'))

    step('hospital-b restarts: it scrubs its replica, reports, and repairs from a peer')
    nodes[1] = await start(dirs[1]!)
    const outbox = join(dirs[1]!, 'alerts', 'outbox')
    await waitFor(async () => (await readdir(outbox).catch(() => [])).length > 0)
    await waitFor(async () => (await nodes[1]!.store.verify()).ok)
    const [eml] = await readdir(outbox)
    const raw = await readFile(join(outbox, eml!), 'utf8')
    console.log(`the alert email (no SMTP configured, so it is in ${outbox}):\n`)
    console.log(raw.match(/^Subject: .*(\r?\n .*)*/m)?.[0].replace(/\r?\n /g, ' ') ?? '')
    console.log(plainTextOf(raw))

    step('after the repair')
    for (const n of nodes) await n.stop()
    console.log((await captured(['verify', '--dir', dirs[1]!])).trim())
  } finally {
    for (const n of nodes) await n.stop()
    await rm(root, { recursive: true, force: true })
  }
}

/** The text/plain part of the message, quoted-printable decoded (enough for this demo). */
function plainTextOf(raw: string): string {
  const start = raw.search(/Content-Type: text\/plain/i)
  const body = raw.slice(
    raw.indexOf('\n\n', start) >= 0 ? raw.indexOf('\n\n', start) : raw.indexOf('\r\n\r\n', start),
  )
  const part = body.split(/\r?\n--/)[0] ?? ''
  return part
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .trim()
}

async function captured(args: string[]): Promise<string> {
  let out = ''
  await main(args, { out: (t) => (out += t), err: (t) => (out += t), env: {} })
  return out
}

run().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
