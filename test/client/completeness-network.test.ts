import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { decodeEntry } from '../../node/core/entry.ts'
import type { QueryAnswerJson } from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import type { QueryService } from '../../node/query/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { noteSkipReason } from '../helpers/skip-reason.ts'
import { type QueryNetwork, startQueryNetwork } from '../query/network-world.ts'

/*
 * End to end on three real nodes: the nodes attach `completeness` to patient queries and put
 * index roots in their checkpoints (the node side of issue 15), the real CLI checks them.
 * SKIPPED until the node side is merged: on the base branch nodes send no proof and their
 * checkpoints carry no index roots. Enable by removing `.skip` after the merge; the same
 * checks run today against answers built from a store in completeness-cli.test.ts.
 */
const NODE_SIDE_MERGED = false
if (!NODE_SIDE_MERGED)
  noteSkipReason('completeness E2E on real nodes waits for the node side of issue 15')

describe.skipIf(!NODE_SIDE_MERGED)('completeness on a real network, through the CLI', () => {
  let world: QueryNetwork
  let network: string
  const envs: Record<string, Record<string, string>> = {}
  let restore: (() => void) | undefined

  beforeAll(async () => {
    world = await startQueryNetwork()
    network = join(world.root, 'network.json')
    for (const user of ['alice', 'admin']) {
      envs[user] = { EHRLOG_CONFIG_DIR: join(world.root, `config-${user}`) }
      await saveSession({ env: envs[user] } as unknown as CliContext, {
        v: 1,
        node: world.nodes[0]!.httpUrl,
        username: `${user}@hospital-a`,
        token: world.tokens[user]!,
        role: user === 'admin' ? 'admin' : 'patient',
        expiresMs: Date.now() + 3600_000,
      })
    }
  }, 60_000)

  afterEach(() => {
    restore?.()
    restore = undefined
  })

  afterAll(async () => {
    await Promise.all((world?.nodes ?? []).map((n) => n.stop()))
    if (world) await rm(world.root, { recursive: true, force: true })
  })

  const query = (user: string, ...args: string[]) =>
    runCli(['query', '--network', network, ...args], envs[user])

  function lie(node: EhrlogNode, tamper: (answer: QueryAnswerJson) => void) {
    const service = node.query as QueryService
    const honest = service.answerAs.bind(service)
    service.answerAs = async (session, request) => {
      const answer = await honest(session, request)
      tamper(answer)
      return answer
    }
    restore = () => {
      service.answerAs = honest
    }
  }

  it("a patient's own trail is proven complete, with and without a cross-check", async () => {
    for (const crossCheck of ['0', '1']) {
      const r = await query('alice', '--cross-check', crossCheck)
      expect(r.code, r.err).toBe(0)
      expect(r.out).toMatch(
        /^complete: every access to patient MRN-A recorded up to checkpoint \S+Z \([0-9a-f]{12}\), cosigned by [23] of 3$/m,
      )
    }
    const admin = await query('admin', '--patient', 'MRN-B', '--cross-check', '0', '--limit', '1')
    expect(admin.code, admin.err).toBe(0)
    expect(admin.out).toMatch(/^complete: every access to patient MRN-B recorded up to/m)
  })

  it('a node that drops an entry, answers for another patient or sends no proof is refused', async () => {
    const a = world.nodes[0]!
    lie(a, (answer) => {
      const i = answer.entries.findIndex(
        (e) =>
          decodeEntry(new Uint8Array(Buffer.from(e.bytes, 'base64'))).entry.origin === 'hospital-b',
      )
      answer.entries.splice(i, 1)
    })
    let r = await query('admin', '--patient', 'MRN-A', '--cross-check', '0', '--node', a.httpUrl)
    expect(r.code).toBe(3)
    expect(r.out).toMatch(/completeness: 1 of patient MRN-A's \d+ entries at hospital-b .* missing/)
    restore?.()
    lie(a, (answer) => {
      if (answer.completeness) answer.completeness.patientId = 'MRN-B'
    })
    r = await query('admin', '--patient', 'MRN-A', '--cross-check', '0', '--node', a.httpUrl)
    expect(r.code).toBe(3)
    expect(r.out).toContain('answered under another patient')
    restore?.()
    lie(a, (answer) => {
      delete answer.completeness
    })
    r = await query('admin', '--patient', 'MRN-A', '--cross-check', '0', '--node', a.httpUrl)
    expect(r.code).toBe(3)
    expect(r.out).toContain('completeness: not proven (the node sent no proof)')
  })

  it('an older checkpoint sent as the latest, after the CLI verified a newer one, is refused', async () => {
    const a = world.nodes[0]!
    let kept: QueryAnswerJson['checkpoint'] = null
    lie(a, (answer) => {
      kept ??= answer.checkpoint
    })
    await query('admin', '--patient', 'MRN-A', '--cross-check', '0', '--node', a.httpUrl)
    restore?.()
    await a.ingest.submit([makeEvent(99, { patientId: 'MRN-A' })])
    const size = a.store.size('hospital-a')
    await waitFor('replication', () =>
      world.nodes.every((n) => n.store.size('hospital-a') === size),
    )
    await a.checkpoints.runRound()
    const fresh = await query(
      'admin',
      '--patient',
      'MRN-A',
      '--cross-check',
      '0',
      '--node',
      a.httpUrl,
    )
    expect(fresh.code, fresh.out).toBe(0)
    lie(a, (answer) => {
      answer.checkpoint = kept
    })
    const r = await query('admin', '--patient', 'MRN-A', '--cross-check', '0', '--node', a.httpUrl)
    expect(r.code).toBe(3)
    expect(r.out).toMatch(
      /checkpoint: the answer's checkpoint of .* is older than the checkpoint of .* already verified/,
    )
  })
})
