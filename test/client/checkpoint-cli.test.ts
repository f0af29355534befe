import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { register } from '../query/sessions.ts'

describe('ehrlog checkpoint, proof and verify against the cosigned checkpoint', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('runs a round, verifies it and an entry proof itself, online and offline', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root)
    nodes = await startNodes(dirs)
    await nodes[0]!.ingest.submit(Array.from({ length: 12 }, (_, i) => makeEvent(i)))
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 12))
    const network = join(root, 'network.json')

    const none = await runCli(['checkpoint', '--node', nodes[1]!.httpUrl, '--network', network])
    expect(none.code).toBe(5)
    expect(none.err).toMatch(/^NOT_FOUND: no cosigned checkpoint yet/)

    const run = await runCli(['checkpoint', '--dir', dirs[0]!, '--run'])
    expect(run.err).toBe('')
    expect(run.out).toMatch(/^verified: cosigned by [23] of 3 nodes \(hospital-a/)
    expect(run.out).toMatch(/hospital-a\s+12\s+[0-9a-f]{64}/)
    await waitFor('b to store it', () => nodes[1]!.checkpoints.latest() !== undefined)

    const shown = await runCli([
      'checkpoint',
      '--node',
      nodes[1]!.httpUrl,
      '--network',
      network,
      '--json',
    ])
    expect(JSON.parse(shown.out)).toMatchObject({ verified: true, memberCount: 3 })
    expect((await runCli(['checkpoint', '--node', nodes[1]!.httpUrl])).err).toMatch(
      /^ARGUMENT_INVALID: give --network FILE/,
    )

    // Online, an entry's contents need a session (the EHR's API token only appends).
    const noSession = await runCli(
      ['proof', 'hospital-a:7', '--node', nodes[2]!.httpUrl, '--network', network],
      { EHRLOG_CONFIG_DIR: join(root, 'nobody') },
    )
    expect(noSession.code).toBe(7)
    expect(noSession.err).toMatch(/^UNAUTHORIZED: not logged in/)
    expect((await runCli(['proof', 'nonsense', '--dir', dirs[2]!])).code).toBe(2)
    const kept = join(root, 'kept-checkpoint.json')
    await writeFile(kept, shown.out)
    await nodes[0]!.ingest.submit([makeEvent(40)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 13))
    expect((await runCli(['checkpoint', '--dir', dirs[0]!, '--run'])).code).toBe(0)
    await waitFor('c to store it', () =>
      nodes.every((n) => n.checkpoints.latest()?.checkpoint.feeds[0]?.treeSize === 13),
    )
    const since = await runCli([
      'checkpoint',
      '--node',
      nodes[2]!.httpUrl,
      '--network',
      network,
      '--since',
      kept,
    ])
    expect(since.err).toBe('')
    expect(since.out).toMatch(/^consistent: every feed of your checkpoint of .* is a prefix/m)
    expect(since.out).toMatch(/^ {2}hospital-a: 12 → 13 \(RFC 9162 consistency proof checked\)$/m)

    // A user record in hospital-b's feed, for `log --kind` below.
    await register(nodes[1]!.auth, 'admin@hospital-b', 'admin')
    const bSize = nodes[1]!.store.size('hospital-b')
    await waitFor('the record at c', () => nodes[2]!.store.size('hospital-b') === bSize)
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    const kinds = async (...more: string[]) =>
      (await runCli(['log', '--dir', dirs[2]!, '--json', ...more])).out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { entry: { kind: string } }).entry.kind)
    expect(new Set(await kinds())).toEqual(new Set(['event']))
    const all = await kinds('--kind', 'all')
    expect(all.filter((k) => k === 'user')).toHaveLength(bSize)
    expect(await kinds('--kind', 'user')).toEqual(Array(bSize).fill('user'))
    const offline = await runCli(['checkpoint', '--dir', dirs[1]!])
    expect(offline.out).toMatch(/^verified: cosigned by/)
    const offlineProof = await runCli(['proof', 'hospital-a:12', '--dir', dirs[1]!])
    expect(offlineProof.err).toBe('')
    expect(offlineProof.out).toMatch(/entry hospital-a:12 {2}hash [0-9a-f]{64}/)
    expect(offlineProof.out).toMatch(/verified: cosigned by/)
    expect((await runCli(['proof', 'hospital-a:99', '--dir', dirs[1]!])).err).toMatch(
      /^NOT_FOUND: no such entry hospital-a:99/,
    )
    // Offline too: the kept checkpoint against the folder's latest.
    const offlineSince = await runCli(['checkpoint', '--dir', dirs[1]!, '--since', kept])
    expect(offlineSince.out).toMatch(/hospital-a: 12 → 13/)
    const verify = await runCli(['verify', '--dir', dirs[2]!])
    expect(verify.code).toBe(0)
    expect(verify.out).toMatch(/checked against the latest checkpoint, verified: cosigned by/)
  }, 90_000)
})
