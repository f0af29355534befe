import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { main } from '../../client/main.ts'
import { saveSession } from '../../client/session-store.ts'
import { blsSign } from '../../node/core/bls.ts'
import { aggregateCosignatures, checkpointSigningMessage } from '../../node/core/checkpoint.ts'
import { hashLeaf } from '../../node/core/merkle/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { type QueryNetwork, startQueryNetwork } from '../query/network-world.ts'
import { login } from '../query/sessions.ts'

describe('the CLI: signed, whole bundles; proofs with a session; checkpoint --since', () => {
  let world: QueryNetwork
  let network: string

  beforeAll(async () => {
    world = await startQueryNetwork()
    network = join(world.root, 'network.json')
    const a = world.nodes[0]!
    await a.auth.approve(login(a.auth, 'admin@hospital-a').claims, 'audit@hospital-a')
    await waitFor('approval everywhere', () =>
      world.nodes.every((n) => n.auth.directory.get('audit@hospital-a')?.status === 'active'),
    )
    for (const user of ['admin', 'audit'])
      await saveSession({ env: {}, configDir: join(world.root, user) } as unknown as CliContext, {
        v: 1,
        node: a.httpUrl,
        username: `${user}@hospital-a`,
        token: login(a.auth, `${user}@hospital-a`).token,
        role: user === 'admin' ? 'admin' : 'auditor',
        expiresMs: Date.now() + 3600_000,
      })
  }, 60_000)

  afterAll(async () => {
    await Promise.all((world?.nodes ?? []).map((n) => n.stop()))
    if (world) await rm(world.root, { recursive: true, force: true })
  })

  /** The CLI as `user`, with `password` at the prompt. */
  async function cli(user: string, args: string[], password = `pw of ${user}@hospital-a`) {
    let out = ''
    let err = ''
    const ctx: CliContext = {
      out: (t) => {
        out += t
      },
      err: (t) => {
        err += t
      },
      env: {},
      configDir: join(world.root, user),
      passwordInput: async () => password,
    }
    const code = await main(args, ctx)
    return { code, out, err }
  }
  const exportAs = (file: string, ...more: string[]) =>
    cli('admin', [
      'export',
      '--network',
      network,
      '--out',
      join(world.root, file),
      '--patient',
      'MRN-A',
      '--limit',
      '2',
      ...more,
    ])
  const readBundle = async (file: string) =>
    JSON.parse(await readFile(join(world.root, file), 'utf8')) as {
      answers: unknown[]
      end: string
      signedBy?: { publicKey: string }
    }
  const writeBundle = (file: string, bundle: unknown) =>
    writeFile(join(world.root, file), JSON.stringify(bundle))
  const verify = (file: string, ...more: string[]) =>
    cli('admin', ['verify-bundle', join(world.root, file), ...more])

  it('a signed bundle says it is whole and who made it, checked against the user records', async () => {
    const exported = await exportAs('whole.json', '--sign')
    expect(exported.code).toBe(0)
    expect(exported.out).toMatch(/^signed by admin@hospital-a$/m)
    const bundle = await readBundle('whole.json')
    expect(bundle.end).toBe('complete')
    expect(bundle.answers.length).toBeGreaterThan(2)

    const alone = await verify('whole.json')
    expect(alone.code).toBe(0)
    expect(alone.out).toMatch(/^complete: the export reached the end of the answer$/m)
    expect(alone.out).toMatch(
      /created by admin@hospital-a at .*: signed by the key [0-9a-f]{16}…, unverified/,
    )
    const checked = await verify('whole.json', '--node', world.nodes[1]!.httpUrl)
    expect(checked.code).toBe(0)
    expect(checked.out).toMatch(
      /created by admin@hospital-a at .*: signed by admin@hospital-a's key \(user record hospital-a:\d+\)/,
    )

    // A page removed at the end, or in the middle: caught, exit 3.
    await writeBundle('tail.json', { ...bundle, answers: bundle.answers.slice(0, -1) })
    const tail = await verify('tail.json')
    expect(tail.code).toBe(3)
    expect(tail.out).toMatch(/pages are missing: the bundle says its export reached the end/)
    const middle = [...bundle.answers]
    middle.splice(1, 1)
    await writeBundle('middle.json', { ...bundle, answers: middle })
    const cut = await verify('middle.json')
    expect(cut.code).toBe(3)
    expect(cut.out).toMatch(/the signature of admin@hospital-a does not verify/)
  })

  it('an unsigned or --max bundle says so; a wrong password signs with a key the network never saw', async () => {
    const partial = await exportAs('partial.json', '--max', '3')
    expect(partial.out).toMatch(/^incomplete: stopped at --max 3; the rest follows --cursor \S+$/m)
    expect(partial.out).toMatch(/^not signed/m)
    const checked = await verify('partial.json')
    expect(checked.code).toBe(3)
    expect(checked.out).toMatch(
      /^INCOMPLETE: the export stopped at --max 3; the rest follows --cursor/m,
    )
    expect(checked.out).toMatch(
      /created by admin@hospital-a at .*: unverified \(the bundle is not signed\)/,
    )

    const bundle = await readBundle('partial.json')
    await writeBundle('older.json', { ...bundle, end: undefined, max: undefined })
    expect((await verify('older.json')).out).toMatch(
      /^INCOMPLETE: the last answer has a next page/m,
    )

    await cli(
      'admin',
      [
        'export',
        '--network',
        network,
        '--out',
        join(world.root, 'wrong.json'),
        '--patient',
        'MRN-A',
        '--sign',
      ],
      'not the password',
    )
    const wrong = await verify('wrong.json', '--node', world.nodes[0]!.httpUrl)
    expect(wrong.code).toBe(0)
    expect(wrong.out).toMatch(
      /signed, key unverified \(no user record of admin@hospital-a holds this key\)/,
    )
  })

  it('query --kind user shows user records in the table; fhir output keeps events only', async () => {
    const users = await cli('audit', [
      'query',
      '--network',
      network,
      '--kind',
      'user',
      '--origin',
      'hospital-a',
    ])
    expect(users.code).toBe(0)
    expect(users.out).toMatch(
      /^hospital-a:\d+ .*USER : register .*alice@hospital-a .*hospital-a\s+verified$/m,
    )
    const fhir = await cli('audit', [
      'query',
      '--network',
      network,
      '--kind',
      'all',
      '--origin',
      'hospital-a',
      '--format',
      'fhir',
    ])
    expect(fhir.code).toBe(0)
    const bundle = JSON.parse(fhir.out) as { entry: unknown[] }
    expect(bundle.entry.length).toBeGreaterThan(0)
    expect(fhir.out).not.toMatch(/"register"/)
    const out = join(world.root, 'users.json')
    const exported = await cli('audit', [
      'export',
      '--network',
      network,
      '--kind',
      'user',
      '--out',
      out,
    ])
    expect(exported.code).toBe(0)
    const checked = await cli('audit', ['verify-bundle', out])
    expect(checked.code).toBe(0)
    expect(checked.out).toMatch(/USER : register .*bob@hospital-a .*verified$/m)
  })

  it('proof ID works with an auditor session; a missing entry is "no such entry"', async () => {
    const proof = await cli('audit', [
      'proof',
      'hospital-b:2',
      '--node',
      world.nodes[2]!.httpUrl,
      '--network',
      network,
    ])
    expect(proof.err).toBe('')
    expect(proof.out).toMatch(/^entry hospital-b:2 {2}hash [0-9a-f]{64}$/m)
    expect(proof.out).toMatch(/^verified: cosigned by/m)
    const missing = await cli('audit', [
      'proof',
      'hospital-b:77',
      '--node',
      world.nodes[2]!.httpUrl,
      '--network',
      network,
    ])
    expect(missing.code).toBe(5)
    expect(missing.err).toMatch(/^NOT_FOUND: no such entry hospital-b:77/)
  })

  it('checkpoint --since refuses a network that rewrote a feed, naming it', async () => {
    const b = world.nodes[1]!
    const kept = join(world.root, 'kept.json')
    const shown = await cli('audit', [
      'checkpoint',
      '--node',
      b.httpUrl,
      '--network',
      network,
      '--json',
    ])
    await writeFile(kept, shown.out)
    const same = await cli('audit', [
      'checkpoint',
      '--node',
      b.httpUrl,
      '--network',
      network,
      '--since',
      kept,
    ])
    expect(same.code).toBe(0)
    expect(same.out).toMatch(/^consistent: /m)
    // A kept file that is not a checkpoint, or not the network's, is refused before asking.
    const junk = join(world.root, 'junk.json')
    await writeFile(junk, 'not json')
    const notJson = await cli('audit', [
      'checkpoint',
      '--node',
      b.httpUrl,
      '--network',
      network,
      '--since',
      junk,
    ])
    expect(notJson.code).toBe(2)
    expect(notJson.err).toMatch(/^FILE_INVALID: .*junk.json is not a readable JSON checkpoint/)
    const altered = JSON.parse(shown.out) as { cosigned: { checkpoint: { timeMs: number } } }
    altered.cosigned.checkpoint.timeMs += 1
    await writeFile(junk, JSON.stringify(altered))
    const notOurs = await cli('audit', [
      'checkpoint',
      '--node',
      b.httpUrl,
      '--network',
      network,
      '--since',
      junk,
    ])
    expect(notOurs.code).toBe(3)
    expect(notOurs.err).toMatch(/^INVALID_SIGNATURE: /)

    const honest = b.checkpoints.latest()!
    const ids = await Promise.all(world.dirs.map((d) => openNodeDir(d)))
    const checkpoint = {
      ...honest.checkpoint,
      timeMs: honest.checkpoint.timeMs + 1,
      feeds: honest.checkpoint.feeds.map((f) =>
        f.origin === 'hospital-b' ? { ...f, root: hashLeaf(new Uint8Array([1])) } : f,
      ),
    }
    const message = checkpointSigningMessage(checkpoint)
    const forged = aggregateCosignatures(
      checkpoint,
      new Map(ids.map((id, i) => [i, blsSign(id.blsSecretKey, message)])),
      ids.length,
    )
    const latest = b.checkpoints.latest.bind(b.checkpoints)
    b.checkpoints.latest = () => forged
    try {
      const refused = await cli('audit', [
        'checkpoint',
        '--node',
        b.httpUrl,
        '--network',
        network,
        '--since',
        kept,
      ])
      expect(refused.code).toBe(3)
      expect(refused.err).toMatch(
        /^INVALID_PROOF: the history of hospital-b was rewritten: another root at the same tree size 4/,
      )
    } finally {
      b.checkpoints.latest = latest
    }
  })
})
