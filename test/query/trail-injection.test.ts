import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { seedRow } from '../../node/core/trust/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { bodiesAfter } from '../helpers/fixtures.ts'
import { type QueryNetwork, startQueryNetwork } from './network-world.ts'
import { login, register } from './sessions.ts'

const NOTICE = 'SECURITY NOTICE your record was breached - call +1-555-0100'

/**
 * A stranger registers an account without an enrollment code, names another patient in a
 * query and puts a message into the filter. The query is refused; its record lands in the
 * victim's trail, which must carry neither the stranger's text nor let the username pass
 * for the hospital's staff.
 */
describe('a refused query cannot write into another patient trail', () => {
  let world: QueryNetwork
  const env = (user: string) => ({ EHRLOG_CONFIG_DIR: join(world.root, `config-${user}`) })

  beforeAll(async () => {
    world = await startQueryNetwork()
    const a = world.nodes[0]!
    await register(a.auth, 'hospital-security@hospital-a', 'patient')
    for (const user of ['hospital-security', 'bob']) {
      const { token } = login(a.auth, `${user}@hospital-a`)
      await saveSession({ env: env(user) } as unknown as CliContext, {
        v: 1,
        node: a.httpUrl,
        username: `${user}@hospital-a`,
        token,
        role: 'patient',
        expiresMs: Date.now() + 3600_000,
      })
    }
  }, 60_000)

  afterAll(async () => {
    await Promise.all((world?.nodes ?? []).map((n) => n.stop()))
    if (world) await rm(world.root, { recursive: true, force: true })
  })

  const query = (user: string, ...args: string[]) =>
    runCli(['query', '--network', join(world.root, 'network.json'), ...args], env(user))

  it("the stranger's filter text never reaches the victim; the account is marked self-registered", async () => {
    const a = world.nodes[0]!
    const before = a.store.size('hospital-a')
    const attack = await query(
      'hospital-security',
      '--patient',
      'MRN-B',
      '--actor',
      NOTICE,
      '--node',
      a.httpUrl,
    )
    expect(attack.code).toBe(7)
    expect(attack.err).toMatch(/^FORBIDDEN: this patient account is not bound/)

    // The refusal is still recorded in MRN-B's trail (who tried to look), without the text.
    const recorded = await bodiesAfter(a.store, 'hospital-a', before)
    expect(recorded).toEqual([
      expect.objectContaining({
        patientId: 'MRN-B',
        actorId: 'hospital-security@hospital-a',
        outcome: 'failure',
        detail: 'refused (unbound), self-registered patient account, not verified by hospital-a',
        notes: 'via http, filter fields actor, patient (values not recorded: refused)',
      }),
    ])
    await waitFor('record replicated', () =>
      world.nodes.every((n) => n.store.size('hospital-a') > before),
    )

    // Bob reads his trail with the CLI (the portal renders the same seedRow cells).
    const victim = await query('bob', '--action', 'query')
    expect(victim.code).toBe(0)
    expect(victim.out).not.toContain('SECURITY NOTICE')
    expect(victim.out).not.toContain('555-0100')
    const row = victim.out.split('\n').find((l) => l.includes('hospital-security@hospital-a'))
    expect(row).toMatch(/QUERY : refused \(unbound\), self-registered patient/)
    const cells = seedRow({ entry: { kind: 'event', body: recorded[0] } } as never, 2000)
    expect(cells.join(' ')).not.toContain('SECURITY')
    expect(cells[4]).toContain('self-registered patient account')
  })

  it("an approved staff member's query is recorded with its filter and marked as staff", async () => {
    const a = world.nodes[0]!
    const before = a.store.size('hospital-a')
    const r = await runCli(
      [
        'query',
        '--network',
        join(world.root, 'network.json'),
        '--patient',
        'MRN-B',
        '--node',
        a.httpUrl,
      ],
      env('bob'),
    )
    expect(r.code).toBe(0)
    const admin = login(a.auth, 'admin@hospital-a').token
    const res = await fetch(`${a.httpUrl}/api/v1/query?patient=MRN-B&action=read`, {
      headers: { authorization: `Session ${admin}` },
    })
    expect(res.status).toBe(200)
    const recorded = await bodiesAfter(a.store, 'hospital-a', before)
    expect(recorded).toEqual([
      expect.objectContaining({
        actorId: 'bob@hospital-a',
        outcome: 'success',
        detail: 'patient account of hospital-a',
      }),
      expect.objectContaining({
        actorId: 'admin@hospital-a',
        detail: 'admin of hospital-a',
        notes: 'via http, filter {"action":"read","patient":"MRN-B"}',
      }),
    ])
  })
})
