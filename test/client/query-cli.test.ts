import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import { decodeEntry } from '../../node/core/entry.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import type { QueryAnswerJson } from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import type { QueryService } from '../../node/query/index.ts'
import { runCli } from '../helpers/cli.ts'
import { QUERY_BURST_AT_C, type QueryNetwork, startQueryNetwork } from '../query/network-world.ts'
import { login, register } from '../query/sessions.ts'

describe('ehrlog query, export and verify-bundle: the CLI verifies every answer itself', () => {
  let world: QueryNetwork
  let network: string
  const envs: Record<string, Record<string, string>> = {}
  let restore: (() => void) | undefined

  beforeAll(async () => {
    world = await startQueryNetwork()
    network = join(world.root, 'network.json')
    // Bob's account (MRN-B) is at hospital-c, which issues its sessions, so the CLI asks
    // hospital-c first (5 queries at once).
    const c = world.nodes[2]!
    await register(c.auth, 'admin@hospital-c', 'admin')
    const { code } = await c.auth.enroll(login(c.auth, 'admin@hospital-c').claims, 'MRN-B')
    await register(c.auth, 'bob@hospital-c', 'patient', code)
    const bobAtC = login(c.auth, 'bob@hospital-c').token
    for (const user of ['alice', 'admin', 'bob']) {
      const configDir = join(world.root, `config-${user}`)
      envs[user] = { EHRLOG_CONFIG_DIR: configDir }
      await saveSession({ env: envs[user] } as unknown as CliContext, {
        v: 1,
        node: world.nodes[user === 'bob' ? 2 : 0]!.httpUrl,
        username: `${user}@hospital-${user === 'bob' ? 'c' : 'a'}`,
        token: user === 'bob' ? bobAtC : world.tokens[user]!,
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

  /** Makes hospital-a answer through `tamper`: a lying node, as far as any client can tell. */
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

  it("a patient's query shows only their trail, verified and cross-checked", async () => {
    const r = await query('alice')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const lines = r.out.split('\n')
    expect(lines[0]).toMatch(
      /^LOG_ID\s+USER_NAME\s+USER_ID\s+AUDITOR_ID\s+ACTION_TYPE\s+.*ORIGIN\s+INTEGRITY$/,
    )
    const rows = lines.filter((l) => /^hospital-[ab]:\d+ /.test(l))
    expect(rows.length).toBeGreaterThanOrEqual(5)
    for (const row of rows) expect(row).toMatch(/ MRN-A /)
    expect(rows.filter((l) => l.endsWith(' verified'))).toHaveLength(5)
    expect(r.out).toMatch(
      /^verified: cosigned by [23] of 3 nodes \(hospital-a, hospital-[bc](, hospital-c)?\) at /m,
    )
    expect(r.out).toMatch(/^cross-checked with hospital-b: no entry left out$/m)

    const other = await query('alice', '--patient', 'MRN-B')
    expect(other.code).toBe(7)
    expect(other.err).toMatch(/^FORBIDDEN: hospital-a: a patient session can only query its own/)
    const viaHttp = await query('alice', '--patient', 'MRN-B', '--node', world.nodes[1]!.httpUrl)
    expect(viaHttp.code).toBe(7)
    expect(viaHttp.err).toMatch(/^FORBIDDEN: a patient session can only query its own/)
  })

  it('json, csv and fhir output; HTTP with --node; and the query itself is in the log', async () => {
    const json = await query('admin', '--patient', 'MRN-B', '--action', 'read', '--format', 'json')
    expect(json.code).toBe(0)
    const parsed = JSON.parse(json.out)
    expect(parsed).toMatchObject({ verified: true, cosignedBy: { of: 3 } })
    expect(
      parsed.entries.map((e: { entry: { body: AuditEvent } }) => e.entry.body.patientId),
    ).toEqual(['MRN-B', 'MRN-B', 'MRN-B', 'MRN-B'])
    expect(json.err).toMatch(/^verified: cosigned by [23] of 3/)

    const csv = await query(
      'admin',
      '--patient',
      'MRN-A',
      '--action',
      'read',
      '--format',
      'csv',
      '--node',
      world.nodes[2]!.httpUrl,
    )
    expect(csv.code).toBe(0)
    expect(csv.out.split('\r\n')[0]).toBe(
      'LOG_ID,USER_NAME,USER_ID,AUDITOR_ID,ACTION_TYPE,TABLE AFFECTED IN EHR,TIMESTAMP,NOTES,ORIGIN,INTEGRITY',
    )
    expect(csv.out.split('\r\n').filter((l) => l.includes(',MRN-A,'))).toHaveLength(5)
    expect(csv.err).toMatch(/entries from hospital-c/)

    const fhir = await query('admin', '--patient', 'MRN-A', '--action', 'read', '--format', 'fhir')
    expect(JSON.parse(fhir.out)).toMatchObject({ resourceType: 'Bundle', type: 'collection' })
    expect(JSON.parse(fhir.out).entry).toHaveLength(5)

    const a = world.nodes[0]!
    const bodies: AuditEvent[] = []
    for await (const e of a.store.entries('hospital-a', a.store.size('hospital-a') - 5))
      if (e.entry.kind === 'event') bodies.push(e.entry.body as AuditEvent)
    expect(bodies).toContainEqual(
      expect.objectContaining({
        action: 'query',
        actorId: 'admin@hospital-a',
        patientId: 'MRN-A',
        resource: 'audit_log',
        notes: 'via libp2p, filter {"action":"read","patient":"MRN-A"}',
      }),
    )
  })

  it('a node that alters, drops or adds an entry is caught and named (exit 3)', async () => {
    const args = ['--patient', 'MRN-A', '--action', 'read']
    lie(world.nodes[0]!, (answer) => {
      const entry = decodeEntry(new Uint8Array(Buffer.from(answer.entries[1]!.bytes, 'base64')))
      const body = { ...(entry.entry.body as AuditEvent), notes: 'routine check' }
      answer.entries[1]!.bytes = Buffer.from(canonicalJson({ ...entry.entry, body })).toString(
        'base64',
      )
    })
    const altered = await query('admin', ...args)
    expect(altered.code).toBe(3)
    expect(altered.out).toMatch(/^FAILED: 1 problem in the answer of hospital-a/m)
    expect(altered.out).toMatch(
      /^ {2}hospital-a:\d+: inclusion proof for index \d+ in tree size \d+ gives root/m,
    )
    expect(altered.out).toMatch(/routine check\s+hospital-a\s+FAILED: inclusion proof/)
    restore?.()

    lie(world.nodes[0]!, (answer) => {
      answer.entries.splice(3, 1) // the first of hospital-b's MRN-A entries
    })
    const dropped = await query('admin', ...args)
    expect(dropped.code, dropped.out + dropped.err).toBe(3)
    expect(dropped.out).toMatch(
      /^ {2}hospital-b:1: dropped by hospital-a: hospital-b returned it, and both nodes' cosigned checkpoints cover it$/m,
    )
    const unchecked = await query('admin', ...args, '--cross-check', '0')
    expect(unchecked.code).toBe(0) // why cross-checking is on by default
    expect(unchecked.out).toMatch(/^not cross-checked: one node alone cannot prove/m)
    restore?.()

    lie(world.nodes[0]!, (answer) => {
      // A made-up MRN-A entry at a seq that holds another patient's entry.
      const entry = decodeEntry(new Uint8Array(Buffer.from(answer.entries[2]!.bytes, 'base64')))
      const invented = { ...entry.entry, seq: entry.entry.seq + 1 }
      answer.entries.splice(3, 0, {
        ...answer.entries[2]!,
        bytes: Buffer.from(canonicalJson(invented)).toString('base64'),
      })
    })
    const added = await query('admin', ...args)
    expect(added.code).toBe(3)
    expect(added.out).toMatch(/FAILED: 1 problem/)
  })

  it('export, then verify-bundle with nothing but the bundle; one changed byte fails', async () => {
    const bundlePath = join(world.root, 'bundle.json')
    const exported = await runCli(
      [
        'export',
        '--network',
        network,
        '--out',
        bundlePath,
        '--patient',
        'MRN-A',
        '--action',
        'read',
        '--limit',
        '2',
      ],
      envs.admin,
    )
    expect(exported.err).toBe('')
    expect(exported.out).toMatch(/^wrote .*bundle.json: 5 entries in 3 answers/)
    // An existing file is never overwritten silently.
    const before = await readFile(bundlePath, 'utf8')
    const again = ['export', '--network', network, '--out', bundlePath, '--patient', 'MRN-B']
    const refused = await runCli(again, envs.admin)
    expect(refused.code).toBe(2)
    expect(refused.err).toMatch(/^ARGUMENT_INVALID: .*bundle\.json exists; add --force/)
    expect(await readFile(bundlePath, 'utf8')).toBe(before)
    const forced = await runCli([...again, '--force'], envs.admin)
    expect(forced.code, forced.err).toBe(0)
    expect(await readFile(bundlePath, 'utf8')).not.toBe(before)
    await writeFile(bundlePath, before)
    const alone = await mkdtemp(join(tmpdir(), 'ehrlog-bundle-'))
    try {
      const copy = join(alone, 'bundle.json')
      await copyFile(bundlePath, copy)
      const ok = await runCli(['verify-bundle', copy], {})
      expect(ok.code).toBe(0)
      expect(ok.err).toMatch(
        /^trusting the membership inside the bundle: network id [0-9a-f]{16}…, members hospital-a, hospital-b, hospital-c; pin your own copy with --network FILE$/m,
      )
      expect(ok.out).toMatch(
        /^verified: cosigned by [23] of 3 nodes .*; 5 entries from hospital-a$/m,
      )
      expect(ok.out.split('\n').filter((l) => / MRN-A .* verified$/.test(l))).toHaveLength(5)

      const text = await readFile(copy, 'utf8')
      const at = text.indexOf('"proof":["') + '"proof":["'.length
      const flipped = `${text.slice(0, at)}${text[at] === 'a' ? 'b' : 'a'}${text.slice(at + 1)}`
      await writeFile(copy, flipped)
      const bad = await runCli(['verify-bundle', copy], {})
      expect(bad.code).toBe(3)
      expect(bad.out).toMatch(/^FAILED: 1 problem/m)

      const pinned = await runCli(['verify-bundle', bundlePath, '--network', network], {})
      expect(pinned.code).toBe(0)
      expect(pinned.err).toMatch(/^trusting your network.json/)
    } finally {
      await rm(alone, { recursive: true, force: true })
    }
  })

  it("past a node's query rate the CLI says RATE_LIMITED, when to retry, and exits 6", async () => {
    for (let i = 0; i < QUERY_BURST_AT_C; i++) {
      const ok = await query('bob')
      expect(ok.code, ok.err).toBe(0)
    }
    const limited = await query('bob')
    expect(limited.code).toBe(6)
    expect(limited.out).toBe('')
    expect(limited.err).toMatch(
      /^RATE_LIMITED: hospital-c: bob@hospital-c has run more queries than this node allows \(1 a minute, 5 at once\): retry in \d+ s\nhint: wait as long as the message says/,
    )
    // Not passed on to another member: the limit is the node's answer, not an outage.
    const viaHttp = await query('bob', '--node', world.nodes[2]!.httpUrl)
    expect(viaHttp.code).toBe(6)
    expect(viaHttp.err).toMatch(
      /^RATE_LIMITED: bob@hospital-c has run more queries .*retry in \d+ s$/m,
    )
  })

  it('export waits out a RATE_LIMITED page for as long as the node says, then goes on', async () => {
    const service = world.nodes[0]!.query as QueryService
    const honest = service.answerAs.bind(service)
    let refused = 0
    service.answerAs = async (session, request) => {
      if (request.cursor !== undefined && refused++ === 0)
        throw new EhrlogError(
          'RATE_LIMITED',
          'admin@hospital-a has run more queries than this node allows',
          {
            details: { field: 'session', retryAfterSeconds: 1 },
          },
        )
      return honest(session, request)
    }
    restore = () => {
      service.answerAs = honest
    }
    const started = Date.now()
    const exported = await runCli(
      [
        'export',
        '--network',
        network,
        '--out',
        join(world.root, 'waited.json'),
        '--patient',
        'MRN-A',
        '--action',
        'read',
        '--limit',
        '2',
      ],
      envs.admin,
    )
    expect(exported.code, exported.err).toBe(0)
    expect(exported.err).toBe(
      'hospital-a: admin@hospital-a has run more queries than this node allows: waiting 1 s\n',
    )
    expect(exported.out).toMatch(/^wrote .*waited.json: 5 entries in 3 answers/)
    expect(refused).toBeGreaterThan(1)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
  })
})
