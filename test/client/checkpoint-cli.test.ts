import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

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

    const proof = await runCli([
      'proof',
      'hospital-a:7',
      '--node',
      nodes[2]!.httpUrl,
      '--network',
      network,
      '--dir',
      dirs[2]!,
    ])
    expect(proof.err).toBe('')
    expect(proof.out).toMatch(/entry hospital-a:7 {2}hash [0-9a-f]{64}/)
    expect(proof.out).toMatch(/inclusion proof \(4 hashes, RFC 9162\)/)
    expect(proof.out).toMatch(/verified: cosigned by/)
    expect((await runCli(['proof', 'hospital-a:13', '--dir', dirs[2]!])).err).toMatch(
      /^NOT_FOUND: entry hospital-a:13 is not covered/,
    )
    expect((await runCli(['proof', 'nonsense', '--dir', dirs[2]!])).code).toBe(2)
    const noToken = await runCli([
      'proof',
      'hospital-a:7',
      '--node',
      nodes[2]!.httpUrl,
      '--network',
      network,
      '--token',
      'wrong',
    ])
    expect(noToken.code).toBe(7)

    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    const offline = await runCli(['checkpoint', '--dir', dirs[1]!])
    expect(offline.out).toMatch(/^verified: cosigned by/)
    const offlineProof = await runCli(['proof', 'hospital-a:12', '--dir', dirs[1]!])
    expect(offlineProof.out).toMatch(/verified: cosigned by/)
    const verify = await runCli(['verify', '--dir', dirs[2]!])
    expect(verify.code).toBe(0)
    expect(verify.out).toMatch(/checked against the latest checkpoint, verified: cosigned by/)
  })
})
