// `npm start`: a local 3-node ehrlog network on 127.0.0.1 with the prototype's demo data.
// Each hospital's node runs as its own process; Ctrl-C stops them all cleanly. Data lives in
// data/demo/ (override with EHRLOG_DEMO_DIR); a second run reuses it.
import '../node/shim.ts'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { localNodeName } from '../client/commands/network.ts'
import { main } from '../client/main.ts'
import { demoEvents } from './demo-data.ts'
import { runAs } from './governance-cli.ts'
import { type NodeProcess, spawnNode } from './local-network.ts'

const ROOT = resolve(import.meta.dirname, '..')
const DIR = resolve(process.env.EHRLOG_DEMO_DIR ?? join(ROOT, 'data', 'demo'))
const BASE_PORT = Number(process.env.EHRLOG_DEMO_PORT ?? 7400)
const NODES = 3
const LOADED = join(DIR, '.demo-data-loaded')
const ADMINS_CREATED = join(DIR, '.demo-admins-created')
const ACCOUNTS_CREATED = join(DIR, '.demo-accounts-created')
const CREDENTIALS = join(DIR, 'credentials.txt')
/** Written by `npm run demo:add-node` once hospital-d joined: it starts with the others. */
const JOINED = join(DIR, '.demo-hospital-d-joined')
/** The demo's own CLI sessions (the admins'), never the user's ~/.config/ehrlog. */
const DEMO_CONFIG = join(DIR, '.demo-cli-config')

/**
 * Demo accounts. The passwords are simple and printed on purpose: this is a local demo on
 * 127.0.0.1 with made-up data. Real accounts choose their own password at a prompt, and
 * nothing ever prints or stores it.
 */
const ADMINS = [0, 1, 2].map((i) => ({
  username: `admin@${localNodeName(i)}`,
  name: `Admin of ${localNodeName(i)}`,
  password: `admin-${String.fromCharCode(97 + i)}-demo`,
  node: i,
}))
const AUDITOR = {
  username: 'auditor@hospital-a',
  name: 'Audit Company',
  password: 'auditor-demo',
  node: 0,
}
/** The seed's patients (their USER_IDs), each at the hospital that holds their rows. */
const PATIENTS = [
  {
    username: 'john_cena@hospital-a',
    name: 'John Cena',
    password: 'john-demo',
    patientId: '9',
    node: 0,
  },
  {
    username: 'akshay_kumar@hospital-b',
    name: 'Akshay Kumar',
    password: 'akshay-demo',
    patientId: '8',
    node: 1,
  },
  {
    username: 'supriya_patil@hospital-c',
    name: 'Supriya Patil',
    password: 'supriya-demo',
    patientId: '5',
    node: 2,
  },
  { username: 'anish@hospital-c', name: 'Anish', password: 'anish-demo', patientId: '1', node: 2 },
]

async function run(): Promise<void> {
  if (!existsSync(join(DIR, 'network.json'))) {
    console.log(`creating a ${NODES}-node network in ${DIR}`)
    const code = await main([
      'network',
      'init',
      '--dir',
      DIR,
      '--nodes',
      String(NODES),
      '--base-port',
      String(BASE_PORT),
    ])
    if (code !== 0) throw new Error(`network init failed (exit ${code})`)
  } else {
    console.log(`reusing the network in ${DIR}`)
  }
  // Admins are written offline into the stopped nodes' folders, as `ehrlog user create` does.
  if (!existsSync(ADMINS_CREATED)) await createDemoAdmins()
  const nodes: NodeProcess[] = []
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  }
  process.once('SIGINT', () => {
    console.log('\nstopping the nodes…')
    stopAll().then(() => process.exit(0))
  })
  process.once('SIGTERM', () => stopAll().then(() => process.exit(0)))
  try {
    const running = NODES + (existsSync(JOINED) ? 1 : 0)
    for (let i = 0; i < running; i++) {
      const dir = join(DIR, localNodeName(i))
      nodes.push(await spawnNode(dir, { logFile: join(DIR, `${localNodeName(i)}.log`) }))
    }
  } catch (err) {
    await stopAll()
    throw err
  }
  if (!existsSync(LOADED)) await loadDemoData(nodes)
  if (!existsSync(ACCOUNTS_CREATED)) await createDemoAccounts(nodes)
  const rel = (p: string) => relative(process.cwd(), p) || '.'
  console.log('\nehrlog demo network is running:')
  for (const n of nodes)
    console.log(
      `  ${n.info.name.padEnd(11)} HTTP ${n.info.http}   libp2p ${n.info.addresses[0] ?? ''}   log ${rel(join(DIR, `${n.info.name}.log`))}`,
    )
  console.log(
    `\nEHR API tokens (Authorization: Bearer …) are in each node's config.json, e.g. ${rel(join(DIR, localNodeName(0), 'config.json'))}`,
  )
  console.log('\nTry, in another terminal:')
  console.log(`  node bin/ehrlog.js status --dir ${rel(join(DIR, localNodeName(0)))}`)
  console.log(
    `  node bin/ehrlog.js append --dir ${rel(join(DIR, localNodeName(0)))} --patient 1 --patient-name anish --actor 12 --action read --resource user_prescriptions --notes "Doctor viewed the prescription"`,
  )
  console.log(
    `  node bin/ehrlog.js status --dir ${rel(join(DIR, localNodeName(2)))}      # the new entry is replicated`,
  )
  console.log(
    `  (stop the demo, then) node bin/ehrlog.js log --dir ${rel(join(DIR, localNodeName(1)))}   # every hospital's entries, seed table`,
  )
  console.log(
    `  node bin/ehrlog.js verify --dir ${rel(join(DIR, localNodeName(1)))}      # through the running node`,
  )
  if (existsSync(CREDENTIALS)) {
    console.log(
      `\nDemo accounts (simple passwords, printed because this is a local demo; also in ${rel(CREDENTIALS)}):`,
    )
    process.stdout.write(await readFile(CREDENTIALS, 'utf8'))
    console.log(
      `  e.g. node bin/ehrlog.js login --node ${nodes[2]!.info.http} --username anish@hospital-c   (password anish-demo)`,
    )
    console.log('       node bin/ehrlog.js whoami')
  }
  console.log(
    `\nWeb portal (on every node): ${nodes[0]!.info.http}/login  (log in with a demo account above)`,
  )
  console.log('\nCtrl-C stops every node; run `npm start` again to continue with the same data.')
  await new Promise(() => {}) // until a signal
}

async function loadDemoData(nodes: NodeProcess[]): Promise<void> {
  const perNode = demoEvents()
  let total = 0
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!
    const token = (
      JSON.parse(await readFile(join(node.dir, 'config.json'), 'utf8')) as { apiToken: string }
    ).apiToken
    const response = await fetch(`${node.info.http}/api/v1/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'idempotency-key': `demo-data-${node.info.name}`,
      },
      body: JSON.stringify(perNode[i]),
    })
    if (!response.ok)
      throw new Error(
        `loading demo data into ${node.info.name}: ${response.status} ${await response.text()}`,
      )
    total += perNode[i]!.length
  }
  await writeFile(LOADED, `${new Date().toISOString()}\n`)
  console.log(
    `loaded the prototype's ${total} demo log rows (john_cena at hospital-a, akshay_kumar at hospital-b, supriya_patil and anish at hospital-c)`,
  )
}

/** Runs the ehrlog CLI in this process as one demo user; throws with its stderr on failure. */
async function cli(args: string[], as: { username: string; password: string }): Promise<string> {
  const { code, out, err } = await runAs({ ...as, configDir: join(DEMO_CONFIG, as.username) }, args)
  if (code !== 0)
    throw new Error(`ehrlog ${args.slice(0, 2).join(' ')} as ${as.username}: ${err.trim()}`)
  return out
}

async function createDemoAdmins(): Promise<void> {
  for (const admin of ADMINS) {
    const dir = join(DIR, localNodeName(admin.node))
    const args = [
      'user',
      'create',
      '--dir',
      dir,
      '--username',
      admin.username,
      '--name',
      admin.name,
    ]
    await cli([...args, '--password-stdin'], admin).catch((err: Error) => {
      if (!/is taken/.test(err.message)) throw err // made by an earlier run that stopped early
    })
  }
  await writeFile(ADMINS_CREATED, `${new Date().toISOString()}\n`)
  console.log(`created an admin at each hospital: ${ADMINS.map((a) => a.username).join(', ')}`)
}

/**
 * Through the running nodes, as people would: the auditor registers and hospital-a's admin
 * approves it; each hospital's admin issues enrollment codes for its patients, who register
 * with them. The scrypt work is real, so this takes a few seconds.
 */
async function createDemoAccounts(nodes: NodeProcess[]): Promise<void> {
  console.log('creating the demo accounts (each derives its login key with scrypt: a few seconds)…')
  const url = (i: number) => nodes[i]!.info.http
  const loggedIn = new Set<number>()
  const adminOf = async (i: number) => {
    const admin = ADMINS[i]!
    if (!loggedIn.has(i))
      await cli(['login', '--node', url(i), '--username', admin.username], admin)
    loggedIn.add(i)
    return admin
  }
  const registerArgs = (u: { username: string; name: string; node: number }) => [
    'register',
    '--node',
    url(u.node),
    '--username',
    u.username,
    '--name',
    u.name,
  ]
  // An earlier run that stopped part-way may have made some of them: those steps are skipped.
  const unlessDone = (err: Error) => {
    if (!/is taken|not pending/.test(err.message)) throw err
  }
  await cli([...registerArgs(AUDITOR), '--auditor'], AUDITOR).catch(unlessDone)
  await cli(['user', 'approve', AUDITOR.username], await adminOf(AUDITOR.node)).catch(unlessDone)
  for (const patient of PATIENTS) {
    const admin = await adminOf(patient.node)
    const enrolled = await cli(
      ['user', 'enroll', '--patient-id', patient.patientId, '--json'],
      admin,
    )
    const { code } = JSON.parse(enrolled) as { code: string }
    await cli([...registerArgs(patient), '--enrollment-code', code], patient).catch(unlessDone)
  }
  for (const i of loggedIn) await cli(['logout'], ADMINS[i]!)
  const rows = [
    ...ADMINS.map((a) => [a.username, a.password, 'admin', url(a.node)]),
    [AUDITOR.username, AUDITOR.password, 'auditor', url(AUDITOR.node)],
    ...PATIENTS.map((p) => [p.username, p.password, `patient ${p.patientId}`, url(p.node)]),
  ]
  const width = (c: number) => Math.max(...rows.map((r) => r[c]!.length))
  const text = rows
    .map(
      (r) =>
        `  ${r[0]!.padEnd(width(0))}  ${r[1]!.padEnd(width(1))}  ${r[2]!.padEnd(width(2))}  ${r[3]}\n`,
    )
    .join('')
  await writeFile(CREDENTIALS, text, { mode: 0o600 })
  await writeFile(ACCOUNTS_CREATED, `${new Date().toISOString()}\n`)
}

run().catch((err: unknown) => {
  console.error(
    err instanceof Error ? `${(err as { code?: string }).code ?? 'ERROR'}: ${err.message}` : err,
  )
  process.exit(1)
})
