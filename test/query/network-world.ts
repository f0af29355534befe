import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Membership } from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { login, register } from './sessions.ts'

/** Queries a user may run at once at hospital-c (refilled at one a minute). */
export const QUERY_BURST_AT_C = 5

export interface QueryNetwork {
  root: string
  dirs: string[]
  membership: Membership
  nodes: EhrlogNode[]
  /** Session tokens issued by hospital-a, by user: admin, alice (MRN-A), bob (MRN-B),
   * audit and eve (pending auditors), unbound (a patient without a binding). */
  tokens: Record<string, string>
}

/**
 * Three real nodes (libp2p, LevelDB, HTTP on loopback). Patients MRN-A and MRN-B each have
 * events at hospital-a (seqs after the user records) and hospital-b (seqs 1–4), all cosigned
 * by one checkpoint round. hospital-c allows each user 5 queries at once, refilled at one a
 * minute (config.json `query.rateLimit`), the others the default. The caller stops the nodes
 * and removes `root`.
 */
export async function startQueryNetwork(): Promise<QueryNetwork> {
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-query-'))
  let nodes: EhrlogNode[] = []
  try {
    const { dirs, membership } = await initNetwork(root)
    const configFile = join(dirs[2]!, 'config.json')
    const config = JSON.parse(await readFile(configFile, 'utf8'))
    config.query = { rateLimit: { perMinute: 1, burst: QUERY_BURST_AT_C } }
    await writeFile(configFile, JSON.stringify(config))
    nodes = await startNodes(dirs)
    const [a, b] = nodes as [EhrlogNode, EhrlogNode]
    await register(a.auth, 'admin@hospital-a', 'admin')
    const admin = login(a.auth, 'admin@hospital-a').claims
    for (const [name, mrn] of [
      ['alice', 'MRN-A'],
      ['bob', 'MRN-B'],
    ] as const) {
      const { code } = await a.auth.enroll(admin, mrn)
      await register(a.auth, `${name}@hospital-a`, 'patient', code)
    }
    await register(a.auth, 'audit@hospital-a', 'auditor')
    await register(a.auth, 'eve@hospital-a', 'auditor')
    await register(a.auth, 'unbound@hospital-a', 'patient')
    const tokens: Record<string, string> = {}
    for (const user of ['admin', 'alice', 'bob', 'audit', 'eve', 'unbound'])
      tokens[user] = login(a.auth, `${user}@hospital-a`).token
    const events = (n: number, patientId: string, first: number) =>
      Array.from({ length: n }, (_, i) => makeEvent(first + i, { patientId }))
    await a.ingest.submit([...events(3, 'MRN-A', 0), ...events(2, 'MRN-B', 10)])
    await b.ingest.submit([...events(2, 'MRN-A', 20), ...events(2, 'MRN-B', 30)])
    const aSize = a.store.size('hospital-a')
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-a') === aSize && n.store.size('hospital-b') === 4),
    )
    await waitFor('user directory everywhere', () =>
      nodes.every((n) => n.auth.directory.get('unbound@hospital-a') !== undefined),
    )
    await a.checkpoints.runRound()
    await waitFor('checkpoint everywhere', () => nodes.every((n) => n.checkpoints.latest()))
    return { root, dirs, membership, nodes, tokens }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(root, { recursive: true, force: true })
    throw err
  }
}
