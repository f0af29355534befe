import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { checkpointId, cosignedToJson } from '../../node/core/checkpoint.ts'
import { decodeEntry } from '../../node/core/entry.ts'
import { decodeCompletenessProof, encodeCompletenessProof } from '../../node/core/index/index.ts'
import type { QueryAnswerJson } from '../../node/core/trust/index.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { useAnswerServer } from '../query/answer-server.ts'
import { useQueryWorld } from '../query/fixtures.ts'

/*
 * `ehrlog query --patient`, `export` and `verify-bundle` through the real CLI entry, over real
 * HTTP, against answers built from a real store exactly as a node builds them (real
 * BLS-cosigned checkpoints whose cuts carry PatientIndex roots, proofs by PatientIndex.prove).
 * The nodes themselves attach completeness once the node side of issue 15 lands: the same
 * checks against a real network are in completeness-network.test.ts.
 */

function originOf(answer: QueryAnswerJson, i: number): string {
  return decodeEntry(new Uint8Array(Buffer.from(answer.entries[i]!.bytes, 'base64'))).entry.origin
}

describe('ehrlog query --patient: the whole trail, proven complete or refused with the reason', () => {
  const world = useQueryWorld()
  const serve = useAnswerServer(world)
  const tempDir = useTempDirs()

  async function setUp() {
    const store = await world.open()
    await world.append(store, 0, 0, 21) // patient-0 at hospital-a:1, :8, :15
    await world.append(store, 1, 100, 14) // patient-0 at hospital-b:6, :13
    const checkpoint = await world.cosign(store, [0, 1], Date.parse('2026-03-01T09:00:00Z'))
    await world.append(store, 0, 21, 7) // patient-0 at hospital-a:22, after the checkpoint
    const server = await serve(store, checkpoint)
    const dir = await tempDir()
    const network = join(dir, 'network.json')
    await writeFile(network, JSON.stringify(world.networkJson))
    const env = { EHRLOG_CONFIG_DIR: join(dir, 'config') }
    await saveSession({ env } as unknown as CliContext, {
      v: 1,
      node: server.url,
      username: 'auditor@hospital-a',
      token: 'not-a-token-the-fixture-checks',
      role: 'admin',
      expiresMs: Date.now() + 3600_000,
    })
    const query = (...args: string[]) =>
      runCli(['query', '--network', network, '--node', server.url, ...args], env)
    return { store, checkpoint, server, dir, network, env, query }
  }

  const P0 = ['--patient', 'patient-0', '--cross-check', '0']

  it('accepted: all pages collected, the statement printed, the checkpoint kept', async () => {
    const { server, query, checkpoint, env } = await setUp()
    const r = await query(...P0, '--limit', '2')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    // 6 entries, 2 a page: a full third page says there may be more, the fourth is empty.
    expect(server.requests).toBe(4)
    const prefix = checkpointId(checkpoint.checkpoint).slice(0, 12)
    expect(r.out).toContain(
      `complete: every access to patient patient-0 recorded up to checkpoint 2026-03-01T09:00:00.000Z (${prefix}), cosigned by 2 of 3\n`,
    )
    expect(r.out).toContain(
      '1 newer entry signed by its origin, not yet proven complete (hospital-a: 1)\n',
    )
    expect(r.out).toMatch(/^verified: cosigned by 2 of 3 nodes .*; 6 entries from hospital-a$/m)
    const kept = await readdir(join(env.EHRLOG_CONFIG_DIR, 'checkpoints'))
    expect(kept).toHaveLength(1)
    // JSON output carries the statement too.
    const json = await query(...P0, '--format', 'json')
    expect(json.code).toBe(0)
    expect(JSON.parse(json.out).completeness[0]).toMatch(/^complete: every access to patient/)
  })

  it('refused: an entry dropped from the answer (exit 3, naming the origin)', async () => {
    const { server, query } = await setUp()
    server.state.tamper = (answer) => {
      const i = answer.entries.findIndex((_, j) => originOf(answer, j) === 'hospital-b')
      answer.entries.splice(i, 1)
    }
    const r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toContain(
      "  completeness: 1 of patient patient-0's 2 entries at hospital-b up to 14 are missing\n",
    )
    expect(r.out).not.toContain('complete: every access')
  })

  it('refused: an entry about another patient added', async () => {
    const { server, query, store, checkpoint } = await setUp()
    const other = await world.answer(store, checkpoint, { patient: 'patient-1' })
    server.state.tamper = (answer) => {
      answer.entries.splice(1, 0, other.entries[0]!)
    }
    const r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toMatch(/^ {2}hospital-a:2: .*patient/m)
  })

  it('refused: completeness for patient-1 when patient-0 was asked, and a proof for patient-1 relabelled', async () => {
    const { server, query, store, checkpoint } = await setUp()
    const forOne = await world.completenessAt(store, checkpoint, 'patient-1')
    server.state.tamper = (answer) => {
      answer.completeness = forOne
    }
    let r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toContain(
      '  completeness: answered under another patient: the completeness proof is for patient patient-1, not patient-0\n',
    )
    server.state.tamper = (answer) => {
      answer.completeness = { patientId: 'patient-0', proof: forOne.proof }
    }
    r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toContain(
      "  completeness: the answer's index key is not patient patient-0's: its VRF proof does not verify\n",
    )
  })

  it('refused: "no entries at hospital-b" claimed over a leaf', async () => {
    const { server, query } = await setUp()
    server.state.tamper = (answer) => {
      answer.entries = answer.entries.filter((_, i) => originOf(answer, i) !== 'hospital-b')
      const proof = decodeCompletenessProof(Buffer.from(answer.completeness!.proof, 'base64'))
      proof.origins = proof.origins.map((o) =>
        o.origin === 'hospital-b' ? { origin: o.origin, proof: o.proof } : o,
      )
      answer.completeness!.proof = Buffer.from(encodeCompletenessProof(proof)).toString('base64')
    }
    const r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toContain(
      '  completeness: the proof that patient patient-0 has no entries at hospital-b up to 14 does not verify\n',
    )
  })

  it('refused: an older checkpoint presented as the latest once a newer one was verified', async () => {
    const { server, query, store, checkpoint } = await setUp()
    const newer = await world.cosign(store, [0, 1, 2], Date.parse('2026-03-01T10:00:00Z'))
    server.state.checkpoint = newer
    expect((await query(...P0)).code).toBe(0) // kept: 10:00
    server.state.checkpoint = checkpoint // 09:00, sent as the node's latest
    const r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toMatch(
      /^ {2}checkpoint: the answer's checkpoint of 2026-03-01T09:00:00.000Z \([0-9a-f]{12}\) is older than the checkpoint of 2026-03-01T10:00:00.000Z \([0-9a-f]{12}\) already verified: the node presents an old state as its latest$/m,
    )
  })

  it('a damaged kept checkpoint protects nothing: ignored, then replaced by the verified one', async () => {
    const { query, env } = await setUp()
    expect((await query(...P0)).code).toBe(0)
    const dir = join(env.EHRLOG_CONFIG_DIR, 'checkpoints')
    const [name] = await readdir(dir)
    await writeFile(join(dir, name!), '{"not":"a checkpoint"}')
    const r = await query(...P0)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^complete: every access to patient patient-0/m)
    expect(JSON.parse(await readFile(join(dir, name!), 'utf8')).checkpoint.timeMs).toBe(
      Date.parse('2026-03-01T09:00:00Z'),
    )
  })

  it('a missing proof: refused with --cross-check 0 (the default), reported with --no-require-complete', async () => {
    const { server, query } = await setUp()
    server.state.tamper = (answer) => {
      delete answer.completeness
    }
    const r = await query(...P0)
    expect(r.code).toBe(3)
    expect(r.out).toContain('completeness: not proven (the node sent no proof)\n')
    expect(r.out).toContain(
      'refused: completeness is required (--require-complete, the default with --cross-check 0)\n',
    )
    const lenient = await query(...P0, '--no-require-complete')
    expect(lenient.code).toBe(0)
    expect(lenient.out).toContain('completeness: not proven (the node sent no proof)\n')
    expect(lenient.out).not.toContain('refused:')
  })

  it('a narrowed query claims no completeness either way', async () => {
    const { query } = await setUp()
    const r = await query(...P0, '--action', 'read')
    expect(r.code).toBe(0)
    expect(r.out).not.toContain('complete')
  })

  it('export carries the proof; verify-bundle checks it offline, refuses a dropped entry and an old checkpoint with --since', async () => {
    const { server, network, env, dir, store } = await setUp()
    const bundle = join(dir, 'trail.bundle.json')
    const exported = await runCli(
      [
        'export',
        '--network',
        network,
        '--node',
        server.url,
        '--out',
        bundle,
        ...P0,
        '--limit',
        '4',
      ],
      env,
    )
    expect(exported.err).toBe('')
    expect(exported.code).toBe(0)
    expect(exported.out).toMatch(/^complete: every access to patient patient-0 recorded up to/m)

    const ok = await runCli(['verify-bundle', bundle], {})
    expect(ok.code).toBe(0)
    expect(ok.out).toMatch(
      /^complete: every access to patient patient-0 recorded up to checkpoint 2026-03-01T09:00:00.000Z \([0-9a-f]{12}\), cosigned by 2 of 3$/m,
    )

    // A checkpoint the holder verified later: the bundle's is older.
    const since = join(dir, 'since.json')
    const later = await world.cosign(store, [0, 1, 2], Date.parse('2026-03-01T11:00:00Z'))
    await writeFile(since, JSON.stringify({ cosigned: cosignedToJson(later) }))
    const old = await runCli(['verify-bundle', bundle, '--since', since], {})
    expect(old.code).toBe(3)
    expect(old.out).toMatch(
      /checkpoint: the answer's checkpoint of 2026-03-01T09:00:00.000Z .* is older than the checkpoint of 2026-03-01T11:00:00.000Z/,
    )

    const data = JSON.parse(await readFile(bundle, 'utf8'))
    const first = data.answers[0] as QueryAnswerJson
    first.entries.splice(0, 1) // hospital-a:1
    await writeFile(bundle, JSON.stringify(data))
    const dropped = await runCli(['verify-bundle', bundle], {})
    expect(dropped.code).toBe(3)
    expect(dropped.out).toContain(
      "  completeness: 1 of patient patient-0's 3 entries at hospital-a up to 21 are missing\n",
    )
  })
})
