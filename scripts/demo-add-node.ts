// `npm run demo:add-node`, while `npm start` runs in another terminal: the demo network grows
// a fourth hospital the governed way (docs/operations.md, "Adding a hospital"). It prints and
// runs, one by one, the commands a new hospital's IT team and two members' admins would type;
// then it runs hospital-d's node in the foreground (Ctrl-C stops it; `npm start` starts it
// with the others from then on).
import '../node/shim.ts'
import { existsSync } from 'node:fs'
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { localNodeName } from '../client/commands/network.ts'
import { main } from '../client/main.ts'
import {
  type Admin,
  createAdmin,
  logIn,
  membershipAt,
  mustRunAs,
  propose,
  sign,
} from './governance-cli.ts'
import { type NodeProcess, spawnNode } from './local-network.ts'

const ROOT = resolve(import.meta.dirname, '..')
const DIR = resolve(process.env.EHRLOG_DEMO_DIR ?? join(ROOT, 'data', 'demo'))
const BASE_PORT = Number(process.env.EHRLOG_DEMO_PORT ?? 7400)
/** The new hospital: the fourth, on the ports `network init` would have given it. */
const NEW = localNodeName(3)
const NEW_DIR = join(DIR, NEW)
const P2P_PORT = BASE_PORT + 6
const HTTP_PORT = BASE_PORT + 7
/** The demo's admin sessions (scripts/demo.ts keeps them here too). */
const DEMO_CONFIG = join(DIR, '.demo-cli-config')
/** Written once hospital-d is a member: `npm start` then starts it with the others. */
const JOINED = join(DIR, '.demo-hospital-d-joined')

const rel = (p: string) => relative(process.cwd(), p) || '.'
const http = (i: number) => `http://127.0.0.1:${BASE_PORT + 2 * i + 1}`
/** The demo admins of scripts/demo.ts (simple passwords, printed on purpose: a local demo). */
const admin = (i: number): Admin => {
  const username = `admin@${localNodeName(i)}`
  return {
    username,
    password: `admin-${String.fromCharCode(97 + i)}-demo`,
    configDir: join(DEMO_CONFIG, username),
  }
}
const say = (line: string) => console.log(`\n$ ${line}`)

async function run(): Promise<void> {
  if (!existsSync(join(DIR, 'network.json')))
    throw new Error(`no demo network in ${rel(DIR)}: run \`npm start\` first, and keep it running`)
  const a = http(0)
  /** The genesis every member started with: each node's changes are verified from it. */
  const genesis = JSON.parse(await readFile(join(DIR, 'network.json'), 'utf8'))
  await membershipAt(a, genesis).catch(() => {
    throw new Error(`hospital-a does not answer at ${a}: is \`npm start\` running?`)
  })

  console.log(`== 1. ${NEW}'s IT team creates its node and copies in the network's genesis`)
  if (!existsSync(NEW_DIR)) {
    const args = [
      'init',
      '--dir',
      NEW_DIR,
      '--name',
      NEW,
      '--listen',
      `/ip4/127.0.0.1/tcp/${P2P_PORT}`,
      '--http-port',
      String(HTTP_PORT),
    ]
    say(`ehrlog ${args.map((x) => (x.startsWith(DIR) ? rel(x) : x)).join(' ')}`)
    const code = await main(args)
    if (code !== 0) throw new Error(`init failed (exit ${code})`)
    // The genesis network.json, and the network's index key from a member's folder.
    const indexKey = join(DIR, localNodeName(0), 'index.key')
    say(`cp ${rel(join(DIR, 'network.json'))} ${rel(indexKey)} ${rel(NEW_DIR)}/`)
    await copyFile(join(DIR, 'network.json'), join(NEW_DIR, 'network.json'))
    await copyFile(indexKey, join(NEW_DIR, 'index.key'))
    await chmod(join(NEW_DIR, 'index.key'), 0o600)
    const newAdmin = admin(3)
    say(
      `ehrlog user create --dir ${rel(NEW_DIR)} --username ${newAdmin.username} --name "Admin of ${NEW}"`,
    )
    await createAdmin(newAdmin, NEW_DIR, `Admin of ${NEW}`)
  } else console.log(`(${rel(NEW_DIR)} exists: reused)`)

  const before = await membershipAt(a, genesis)
  if (!before.members.includes(NEW)) {
    console.log(`\n== 2. hospital-a's admin proposes adding ${NEW} (hospital-a's node signs it)`)
    say(
      `ehrlog login --node ${a} --username ${admin(0).username}     (password ${admin(0).password})`,
    )
    await logIn(admin(0), a)
    say(`ehrlog network propose add ${rel(join(NEW_DIR, 'identity.json'))} --node ${a}`)
    const id = await propose(admin(0), a, ['add', join(NEW_DIR, 'identity.json')])
    console.log(`proposal ${id}`)

    console.log("\n== 3. hospital-b's admin signs it: 2 of the 3 members, a quorum")
    say(
      `ehrlog login --node ${http(1)} --username ${admin(1).username}     (password ${admin(1).password})`,
    )
    await logIn(admin(1), http(1))
    say(`ehrlog network sign ${id} --node ${http(1)}`)
    process.stdout.write(await sign(admin(1), http(1), id))

    console.log('\n== 4. every member applies it at its next checkpoint round (within ~10 s)')
    say(`ehrlog network show --node ${a}`)
    for (;;) {
      const now = await membershipAt(a, genesis)
      if (now.members.includes(NEW)) break
      await new Promise((r) => setTimeout(r, 500))
    }
    process.stdout.write(await mustRunAs(admin(0), ['network', 'show', '--node', a]))
  } else console.log(`\n(${NEW} is already a member: version ${before.version})`)

  console.log(
    `\n== 5. ${NEW} starts with the genesis; it fetches the changes, verifies them and syncs every feed`,
  )
  say(`ehrlog node start --dir ${rel(NEW_DIR)}`)
  const node: NodeProcess = await spawnNode(NEW_DIR, {
    logFile: join(DIR, `${NEW}.log`),
  })
  await writeFile(JOINED, `${new Date().toISOString()}\n`)
  process.once('SIGINT', () => node.stop().then(() => process.exit(0)))
  process.once('SIGTERM', () => node.stop().then(() => process.exit(0)))
  console.log(`${NEW} is running: HTTP ${node.info.http}, log ${rel(join(DIR, `${NEW}.log`))}`)
  console.log('\nTry, in another terminal:')
  console.log(
    `  node bin/ehrlog.js status --dir ${rel(NEW_DIR)}        # every hospital's feed, caught up`,
  )
  console.log(
    `  node bin/ehrlog.js checkpoint --dir ${rel(NEW_DIR)}    # cosigned by ${NEW} too, at version 1`,
  )
  console.log(`  node bin/ehrlog.js network show --node ${a}`)
  console.log('\nCtrl-C stops hospital-d; `npm start` starts it with the others from now on.')
  await new Promise(() => {})
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
