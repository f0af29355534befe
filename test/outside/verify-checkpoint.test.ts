import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { readFormatExamples } from '../core/format-doc.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { CheckpointRefused, verifyCheckpoint } from './verify-checkpoint.ts'

const VERIFIER = join(import.meta.dirname, 'verify-checkpoint.ts')

function refusal(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return err instanceof CheckpointRefused ? err.code : `not a refusal: ${String(err)}`
  }
}

/** The cosigned checkpoint's JSON form, as docs/format.md writes it. */
interface CosignedJson {
  checkpoint: {
    networkId: string
    timeMs: number
    feeds: Array<{ origin: string; treeSize: number; root: string; indexRoot: string }>
  }
  signers: string
  signature: string
}

/** Same JSON, one field replaced. */
function withField(cosigned: unknown, change: (c: CosignedJson) => void): unknown {
  const copy = JSON.parse(JSON.stringify(cosigned)) as CosignedJson
  change(copy)
  return copy
}

describe('an outside verifier written from docs/format.md', () => {
  it('imports nothing from ehrlog: only @noble/* and node: modules (and its own chain follower)', async () => {
    for (const file of [VERIFIER, join(import.meta.dirname, 'follow-membership.ts')]) {
      const source = await readFile(file, 'utf8')
      const imports = [...source.matchAll(/^import .* from '([^']+)'/gm)].map((m) => m[1])
      expect(imports.length).toBeGreaterThan(0)
      for (const from of imports)
        expect(from).toMatch(/^(node:|@noble\/(curves|hashes)\/|\.\/follow-membership\.ts$)/)
    }
  })

  // Each verification is four pairings of plain-TypeScript BLS (~0.1 s on a quiet machine):
  // the timeouts leave room for a loaded one.
  it("accepts the document's worked example and refuses its respelled bitmaps", {
    timeout: 90_000,
  }, () => {
    const examples = readFormatExamples()
    const network = examples.get('network')!.lines[0]!
    const cosigned = JSON.parse(examples.get('cosigned-checkpoint')!.lines[0]!) as unknown
    const verdict = verifyCheckpoint(network, cosigned)
    expect(verdict.signers).toEqual([0, 2])
    expect(verdict.quorum).toBe(2)
    expect(verdict.networkId).toBe(JSON.parse(JSON.stringify(cosigned)).checkpoint.networkId)
    const refused: Record<string, string> = {
      '0500': 'INVALID_PROOF',
      '0d': 'INVALID_PROOF',
      '01': 'INVALID_SIGNATURE',
      '07': 'INVALID_SIGNATURE', // claims member 1, whose signature is not in the aggregate
    }
    for (const [signers, code] of Object.entries(refused)) {
      const variant = withField(cosigned, (c) => {
        c.signers = signers
      })
      expect(refusal(() => verifyCheckpoint(network, variant))).toBe(code)
    }
  })

  describe('against three real nodes', () => {
    const tempDir = useTempDirs()
    let nodes: EhrlogNode[] = []
    afterEach(async () => {
      await Promise.all(nodes.map((n) => n.stop()))
      nodes = []
    })

    it('checks the checkpoint the nodes cosigned, fetched over HTTP, on the first try', {
      timeout: 180_000,
    }, async () => {
      const dir = await tempDir()
      const { dirs } = await initNetwork(dir)
      nodes = await startNodes(dirs)
      const [a, b] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
      await a.ingest.submit([makeEvent(1), makeEvent(2), makeEvent(3)])
      await b.ingest.submit([makeEvent(4)])
      await waitFor('replication', () =>
        nodes.every((n) => n.store.size('hospital-a') === 3 && n.store.size('hospital-b') === 1),
      )
      const made = await a.checkpoints.runRound()
      await waitFor('node c to adopt it', () => nodes[2]!.checkpoints.latest() !== undefined)
      const res = await fetch(`${nodes[2]!.httpUrl}/api/v1/checkpoint`)
      expect(res.status).toBe(200)
      const answer = (await res.json()) as { cosigned: unknown }
      const networkText = await readFile(join(dir, 'network.json'), 'utf8')

      const verdict = verifyCheckpoint(networkText, answer)
      expect(verdict.signers.length).toBeGreaterThanOrEqual(2)
      expect(verdict.timeMs).toBe(made.checkpoint.timeMs)
      expect(verdict.feeds.map((f) => [f.origin, f.treeSize])).toEqual([
        ['hospital-a', 3],
        ['hospital-b', 1],
        ['hospital-c', 0],
      ])

      // The same checkpoint, altered anywhere, is refused.
      const changes: Array<[string, (c: CosignedJson) => void]> = [
        ['a tree size', (c) => (c.checkpoint.feeds[0]!.treeSize = 2)],
        ['a root', (c) => (c.checkpoint.feeds[1]!.root = '00'.repeat(32))],
        ['an index root', (c) => (c.checkpoint.feeds[0]!.indexRoot = '11'.repeat(32))],
        ['the time', (c) => (c.checkpoint.timeMs += 1)],
        ['a trailing zero byte on the bitmap', (c) => (c.signers += '00')],
        ['a dropped feed', (c) => c.checkpoint.feeds.pop()],
      ]
      for (const [what, change] of changes) {
        const code = refusal(() =>
          verifyCheckpoint(networkText, withField(answer.cosigned, change)),
        )
        expect(code, what).toMatch(/^INVALID_(SIGNATURE|PROOF)$/)
      }
      // Another network (one member fewer) has another id.
      const fewer = JSON.parse(networkText) as { members: unknown[] }
      fewer.members.pop()
      expect(refusal(() => verifyCheckpoint(JSON.stringify(fewer), answer))).toBe(
        'INVALID_SIGNATURE',
      )

      // And as a command, the way an outsider would run it.
      const checkpointFile = join(dir, 'checkpoint.json')
      await writeFile(checkpointFile, JSON.stringify(answer))
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', VERIFIER, join(dir, 'network.json'), checkpointFile],
        { timeout: 90_000 },
      )
      expect(JSON.parse(stdout)).toMatchObject({ signers: verdict.signers, timeMs: verdict.timeMs })
    })
  })
})
