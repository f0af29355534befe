import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import type { Membership } from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { QueryClient } from '../../node/net/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { login, register } from '../query/sessions.ts'

const A = 'hospital-a'
const AUDITOR = 'audit@hospital-b'

/*
 * A byte flipped in a real store on disk, then a query that must read that entry, over both
 * doors: HTTP answers 503 STORE_CORRUPT, and the libp2p query protocol answers STORE_CORRUPT
 * too (it said INTERNAL, which the client took for "unreachable"). The damaged node runs with
 * its peers down, so it cannot repair itself before the queries reach it (on start it would,
 * within milliseconds: test/integrity/self-repair.test.ts).
 */
describe('a byte flipped on disk: both query doors answer STORE_CORRUPT', () => {
  const tempDir = useTempDirs()
  let dirs: string[] = []
  let membership: Membership
  const running = new Map<string, EhrlogNode>()
  let client: QueryClient

  beforeAll(async () => {
    ;({ dirs, membership } = await initNetwork(await tempDir()))
    const nodes = await startNodes(dirs)
    for (const [i, n] of nodes.entries()) running.set(['a', 'b', 'c'][i]!, n)
    const [a, b] = [running.get('a')!, running.get('b')!]
    await register(b.auth, 'admin@hospital-b', 'admin')
    await register(b.auth, AUDITOR, 'auditor')
    await b.auth.approve(login(b.auth, 'admin@hospital-b').claims, AUDITOR)
    await a.ingest.submit([0, 1, 2, 3].map((i) => makeEvent(i)))
    await waitFor('replication', () => nodes.every((n) => n.store.size(A) === 4))
    await a.checkpoints.runRound()
    await waitFor('checkpoint everywhere', () => nodes.every((n) => n.checkpoints.latest()))
    client = await QueryClient.start()
  }, 90_000)

  afterAll(async () => {
    await client?.stop()
    await Promise.all([...running.values()].map((n) => n.stop()))
  })

  it('HTTP 503 and libp2p STORE_CORRUPT, with the same message and no detail of the disk', async () => {
    for (const name of ['a', 'c', 'b']) {
      await running.get(name)!.stop()
      running.delete(name)
    }
    const identity = await openNodeDir(dirs[1]!)
    const t = new Tamperer(join(dirs[1]!, identity.config.dataDir), identity.storeKeys, A)
    await t.open()
    try {
      await t.flipByte(2)
    } finally {
      await t.close()
    }
    const [b] = await startNodes([dirs[1]!])
    running.set('b', b!)
    const { token } = login(b!.auth, AUDITOR)

    const http = await fetch(`${b!.httpUrl}/api/v1/query?origin=${A}`, {
      headers: { authorization: `Session ${token}` },
    })
    const body = (await http.json()) as { error: { code: string; message: string } }
    expect(http.status).toBe(503)
    expect(body.error.code).toBe('STORE_CORRUPT')

    const target = membership.members.find((m) => m.name === 'hospital-b')!
    const err = await client
      .query(target, { networkId: membership.networkId, token, filter: { origin: A } })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(isEhrlogError(err, 'STORE_CORRUPT')).toBe(true)
    expect((err as Error).message).toBe(`hospital-b: ${body.error.message}`)
    expect((err as Error).message).toMatch(/being repaired from its peers/)

    // The CLI: the other members are down too, so no member answers; the code says why.
    const env = { EHRLOG_CONFIG_DIR: join(dirs[1]!, '..', 'config-auditor') }
    await saveSession({ env } as unknown as CliContext, {
      v: 1,
      node: b!.httpUrl,
      username: AUDITOR,
      token,
      role: 'auditor',
      expiresMs: Date.now() + 3600_000,
    })
    const network = join(dirs[1]!, '..', 'network.json')
    const cli = await runCli(['query', '--network', network, '--origin', A], env)
    expect(cli.code).toBe(3)
    expect(cli.err).toMatch(
      /^STORE_CORRUPT: no member answered: .*hospital-b: part of this node's replica failed verification/,
    )
    expect(cli.err).toMatch(/retry later, or ask another node with --node/)
  }, 90_000)
})
