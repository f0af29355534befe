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
import { type NodeProcess, spawnNode } from './local-network.ts'

const ROOT = resolve(import.meta.dirname, '..')
const DIR = resolve(process.env.EHRLOG_DEMO_DIR ?? join(ROOT, 'data', 'demo'))
const BASE_PORT = Number(process.env.EHRLOG_DEMO_PORT ?? 7400)
const NODES = 3
const LOADED = join(DIR, '.demo-data-loaded')

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
    for (let i = 0; i < NODES; i++) {
      const dir = join(DIR, localNodeName(i))
      nodes.push(await spawnNode(dir, { logFile: join(DIR, `${localNodeName(i)}.log`) }))
    }
  } catch (err) {
    await stopAll()
    throw err
  }
  if (!existsSync(LOADED)) await loadDemoData(nodes)
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
  console.log(`  (stopped) node bin/ehrlog.js verify --dir ${rel(join(DIR, localNodeName(1)))}`)
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

run().catch((err: unknown) => {
  console.error(
    err instanceof Error ? `${(err as { code?: string }).code ?? 'ERROR'}: ${err.message}` : err,
  )
  process.exit(1)
})
