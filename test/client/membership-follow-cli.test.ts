import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { main } from '../../client/main.ts'
import { saveSession } from '../../client/session-store.ts'
import { checkpointRoutes } from '../../node/api/checkpoint-routes.ts'
import { membershipRoute } from '../../node/api/membership-chain-route.ts'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { MembershipHistory, type SignedProposal } from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import {
  cosignAtVersion,
  keysOfFolders,
  type SigningMember,
  signChange,
} from '../helpers/membership-versions.ts'
import { login, register } from '../query/sessions.ts'

/*
 * The CLI follows the membership chain from the network.json it is given: a real one-node
 * network on loopback (LevelDB, HTTP) for GET /api/v1/membership, `ehrlog export` and
 * `verify-bundle`. The running node cannot change its membership yet (the node runtime that
 * applies changes is being built beside this), so the version-1 checkpoints here are the
 * node's own checkpoint cosigned again under version 1 with the node folder's BLS key, and
 * the version-1 change is signed with its Ed25519 key (test/helpers/membership-versions.ts).
 * To serve them over HTTP, the node's own route plugins (membership and checkpoint) run on a
 * Fastify server on loopback with that history and checkpoint: the one stand-in.
 */

let root: string
let dirs: string[]
let node: EhrlogNode
let networkFile: string
let genesisJson: unknown
let keys: Map<string, SigningMember>
let genesis: MembershipHistory
/** Version 1: hospital-a's addresses changed (quorum 1 of 1). */
let change: SignedProposal
let h1: MembershipHistory
/** Another version 1 (another address), also signed: a fork. */
let rival: SignedProposal
let latest: CosignedCheckpoint
const servers: FastifyInstance[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ehrlog-follow-'))
  ;({ dirs } = await initNetwork(root, 1))
  networkFile = join(root, 'network.json')
  genesisJson = JSON.parse(await readFile(networkFile, 'utf8'))
  ;[node] = (await startNodes(dirs)) as [EhrlogNode]
  await register(node.auth, 'admin@hospital-a', 'admin')
  const admin = login(node.auth, 'admin@hospital-a').claims
  await register(node.auth, 'audit@hospital-a', 'auditor')
  await node.auth.approve(admin, 'audit@hospital-a')
  await node.ingest.submit([0, 1, 2].map((i) => makeEvent(i, { patientId: 'MRN-A' })))
  latest = await node.checkpoints.runRound()
  await saveSession(ctxFor('audit').ctx, {
    v: 1,
    node: node.httpUrl,
    username: 'audit@hospital-a',
    token: login(node.auth, 'audit@hospital-a').token,
    role: 'auditor',
    expiresMs: Date.now() + 3600_000,
  })
  keys = await keysOfFolders(dirs)
  genesis = MembershipHistory.fromChain(genesisJson, [])
  const a = keys.get('hospital-a')!
  change = signChange(
    genesis,
    { type: 'addresses', name: 'hospital-a', addresses: ['/ip4/127.0.0.1/tcp/7999'] },
    [a],
  )
  h1 = genesis.extend(change)
  rival = signChange(
    genesis,
    { type: 'addresses', name: 'hospital-a', addresses: ['/ip4/127.0.0.1/tcp/7998'] },
    [a],
  )
}, 60_000)

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  await node?.stop()
  if (root) await rm(root, { recursive: true, force: true })
})

/** A CLI context with its own config folder CONFIG/<user>. */
function ctxFor(user: string) {
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
    configDir: join(root, 'config', user),
  }
  return { ctx, text: () => ({ out, err }) }
}

async function cli(user: string, args: string[]) {
  const { ctx, text } = ctxFor(user)
  const code = await main(args, ctx)
  return { code, ...text() }
}

/** The route plugins of a node on loopback, serving `history` and `checkpoint`. */
async function serve(history: MembershipHistory, checkpoint: CosignedCheckpoint): Promise<string> {
  const app = Fastify()
  await app.register(membershipRoute, { history: () => history })
  await app.register(checkpointRoutes, {
    checkpoints: { latest: () => checkpoint, runRound: async () => checkpoint },
    store: node.store,
    token: { check: () => {} } as never,
  })
  servers.push(app)
  return app.listen({ host: '127.0.0.1', port: 0 })
}

describe('GET /api/v1/membership on a real node', () => {
  it('answers the genesis id, the applied changes and the newest version, without a session', async () => {
    const res = await fetch(`${node.httpUrl}/api/v1/membership`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      v: 1,
      networkId: genesis.networkId,
      after: 0,
      changes: [],
      latest: { version: 0, hash: genesis.networkId },
    })
    expect((await (await fetch(`${node.httpUrl}/api/v1/membership?after=3`)).json()).after).toBe(0)
  })

  it('refuses a bad `after` or an unknown parameter with 400 and the field', async () => {
    for (const [query, field] of [
      ['after=-1', 'after'],
      ['after=1.5', 'after'],
      ['after=x', 'after'],
      ['before=1', 'before'],
    ]) {
      const res = await fetch(`${node.httpUrl}/api/v1/membership?${query}`)
      expect(res.status).toBe(400)
      const body = (await res.json()) as { error: { code: string; details: { field: string } } }
      expect(body.error.code).toBe('ARGUMENT_INVALID')
      expect(body.error.details.field).toBe(field)
    }
    const post = await fetch(`${node.httpUrl}/api/v1/membership`, { method: 'POST' })
    expect(post.status).toBe(405)
  })
})

describe('ehrlog checkpoint follows the chain from the pinned genesis', () => {
  it('verifies a checkpoint of version 1 through the node’s signed change, and keeps the chain', async () => {
    const v1 = cosignAtVersion(latest, h1, 1, keys)
    const url = await serve(h1, v1)
    const r = await cli('follower', ['checkpoint', '--node', url, '--network', networkFile])
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(
      /^verified: cosigned by 1 of 1 node \(hospital-a\) at .* \(membership version 1\)$/m,
    )
    const kept = JSON.parse(
      await readFile(
        join(root, 'config', 'follower', 'membership', `${genesis.networkId}.json`),
        'utf8',
      ),
    )
    expect(kept.changes).toEqual([change])
    // Offline now: the kept chain alone verifies what the node said before.
    const again = await cli('follower', ['checkpoint', '--node', url, '--network', networkFile])
    expect(again.code).toBe(0)
  })

  it('refuses a node whose chain forks the kept one (EQUIVOCATION)', async () => {
    const fork = genesis.extend(rival)
    const url = await serve(fork, cosignAtVersion(latest, fork, 1, keys))
    const r = await cli('follower', ['checkpoint', '--node', url, '--network', networkFile])
    expect(r.code).toBe(3)
    expect(r.err).toMatch(
      /^hint: the membership chain from http:\/\/127\.0\.0\.1:\d+ does not verify from your network\.json/m,
    )
    expect(r.err).toMatch(
      /^EQUIVOCATION: membership change 1 from http:\/\/127\.0\.0\.1:\d+ \(index 0\): two different changes were each signed by a quorum on version 0/m,
    )
  })

  it('names a version the node cannot show the changes for (MEMBERSHIP_UNKNOWN)', async () => {
    const url = await serve(genesis, cosignAtVersion(latest, h1, 1, keys))
    const r = await cli('newcomer', ['checkpoint', '--node', url, '--network', networkFile])
    expect(r.code).toBe(3)
    expect(r.err).toMatch(
      /^MEMBERSHIP_UNKNOWN: the checkpoint is cosigned under membership version 1, but http:\/\/127\.0\.0\.1:\d+ showed the signed changes only up to version 0/m,
    )
  })

  it('refuses a tampered chain naming the change: a dropped signature, a forged change', async () => {
    const dropped = { ...change, signatures: [] }
    const tampered = {
      ...h1,
      networkId: h1.networkId,
      applied: [dropped],
      latest: 1,
      versions: h1.versions,
    } as unknown as MembershipHistory
    const url = await serve(tampered, cosignAtVersion(latest, h1, 1, keys))
    const r = await cli('tamper', ['checkpoint', '--node', url, '--network', networkFile])
    expect(r.code).toBe(3)
    expect(r.err).toMatch(
      /^QUORUM_NOT_MET: membership change 1 from .* \(index 0\) is refused: the proposer hospital-a did not sign its proposal on version 0/m,
    )

    const forged = structuredClone(change)
    forged.proposal.change = {
      type: 'addresses',
      name: 'hospital-a',
      addresses: ['/ip4/6.6.6.6/tcp/1'],
    }
    const url2 = await serve(
      { ...tampered, applied: [forged] } as unknown as MembershipHistory,
      cosignAtVersion(latest, h1, 1, keys),
    )
    const f = await cli('tamper', ['checkpoint', '--node', url2, '--network', networkFile])
    expect(f.code).toBe(3)
    expect(f.err).toMatch(
      /^INVALID_SIGNATURE: membership change 1 from .* is refused: signatures\.0: hospital-a's signature does not verify/m,
    )
  })
})

describe('export bundles carry the changes; verify-bundle follows them offline', () => {
  let bundle: { answers: { checkpoint: unknown }[]; membership?: unknown[] } & Record<
    string,
    unknown
  >
  const file = (name: string) => join(root, name)

  beforeAll(async () => {
    const r = await cli('audit', [
      'export',
      '--network',
      networkFile,
      '--out',
      file('v0.json'),
      '--patient',
      'MRN-A',
    ])
    expect(r.code).toBe(0)
    bundle = JSON.parse(await readFile(file('v0.json'), 'utf8'))
  }, 60_000)

  it('a bundle of version 0 carries no change and verifies; so does an old one without the field', async () => {
    expect(bundle.membership).toEqual([])
    expect(
      (await cli('audit', ['verify-bundle', file('v0.json'), '--network', networkFile])).code,
    ).toBe(0)
    const { membership: _, ...old } = bundle
    await writeFile(file('old.json'), JSON.stringify(old))
    const r = await cli('audit', ['verify-bundle', file('old.json'), '--network', networkFile])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^verified: cosigned by 1 of 1 nodes \(hospital-a\)/m)
  })

  it('a bundle whose checkpoints are of version 1 verifies offline through the change it carries', async () => {
    const { cosignedFromJson, cosignedToJson } = await import('../../node/core/checkpoint.ts')
    const answers = bundle.answers.map((a) => ({
      ...a,
      checkpoint: cosignedToJson(cosignAtVersion(cosignedFromJson(a.checkpoint), h1, 1, keys)),
    }))
    await writeFile(file('v1.json'), JSON.stringify({ ...bundle, answers, membership: [change] }))
    // A fresh config folder: nothing kept, the bundle alone carries the chain.
    const r = await cli('offline', ['verify-bundle', file('v1.json'), '--network', networkFile])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/membership version 1; /)
    // Without the change, version 1 is unknown: refused, named.
    await writeFile(file('v1-bare.json'), JSON.stringify({ ...bundle, answers, membership: [] }))
    const bare = await cli('bare', [
      'verify-bundle',
      file('v1-bare.json'),
      '--network',
      networkFile,
    ])
    expect(bare.code).toBe(3)
    expect(bare.out).toMatch(
      /checkpoint: membership version 1 .* is past the newest this history holds \(0\)/,
    )
    // A forged change: refused naming it, and the checkpoints of the version it would make.
    const forged = structuredClone(change)
    forged.signatures[0]!.signature = '00'.repeat(64)
    await writeFile(
      file('v1-forged.json'),
      JSON.stringify({ ...bundle, answers, membership: [forged] }),
    )
    const f = await cli('forged', [
      'verify-bundle',
      file('v1-forged.json'),
      '--network',
      networkFile,
    ])
    expect(f.code).toBe(3)
    expect(f.out).toMatch(
      /membership: membership change 1 from the bundle \(index 0\) is refused: signatures\.0: hospital-a's signature does not verify/,
    )
  })

  it('a bundle whose chain forks the one the user kept is an equivocation', async () => {
    // `follower` kept version 1 of `change` above; a bundle carrying the rival is refused.
    const fork = genesis.extend(rival)
    const { cosignedFromJson, cosignedToJson } = await import('../../node/core/checkpoint.ts')
    const answers = bundle.answers.map((a) => ({
      ...a,
      checkpoint: cosignedToJson(cosignAtVersion(cosignedFromJson(a.checkpoint), fork, 1, keys)),
    }))
    await mkdir(join(root, 'config', 'follower'), { recursive: true })
    await writeFile(file('fork.json'), JSON.stringify({ ...bundle, answers, membership: [rival] }))
    const r = await cli('follower', ['verify-bundle', file('fork.json'), '--network', networkFile])
    expect(r.code).toBe(3)
    expect(r.out).toMatch(
      /membership: EQUIVOCATION|two different changes were each signed by a quorum/,
    )
  })
})
