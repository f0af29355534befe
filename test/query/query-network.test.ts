import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import {
  type Membership,
  type QueryAnswerJson,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'
import { QueryClient } from '../../node/net/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { bodiesAfter } from '../helpers/fixtures.ts'
import { QUERY_BURST_AT_C, startQueryNetwork } from './network-world.ts'
import { login, signedToken } from './sessions.ts'

/** An answer, or an error body (docs/query.md); a test reads whichever it expects. */
type HttpBody = QueryAnswerJson & {
  error: { code: string; details: { reason?: string; field?: string } }
}

describe('verified queries on a real network: scope, sessions, and the audit of every query', () => {
  let root: string
  let dirs: string[]
  let membership: Membership
  let nodes: EhrlogNode[] = []
  let client: QueryClient
  let tokens: Record<string, string>

  beforeAll(async () => {
    ;({ root, dirs, membership, nodes, tokens } = await startQueryNetwork())
    client = await QueryClient.start()
  }, 60_000)

  afterAll(async () => {
    await client?.stop()
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(root, { recursive: true, force: true })
  })

  const target = (i: number) => membership.members[i]!
  const trust = (filter: object, patientId?: string) => ({
    keys: membership.keys,
    filter,
    scope: patientId ? { patientId } : {},
  })
  const overLibp2p = (i: number, token: string, filter: object = {}) =>
    client.query(target(i), {
      networkId: membership.networkId,
      token,
      filter,
    }) as Promise<QueryAnswerJson>
  const overHttp = async (i: number, query: string, headers: Record<string, string>) => {
    const response = await fetch(`${nodes[i]!.httpUrl}/api/v1/query?${query}`, { headers })
    return { status: response.status, body: (await response.json()) as HttpBody }
  }
  const session = (user: string) => ({ authorization: `Session ${tokens[user]}` })
  const patients = (answer: QueryAnswerJson, patientId?: string) => {
    const result = verifyQueryAnswer(answer, trust(answer.filter, patientId))
    expect(result.failures).toEqual([])
    return result.verified.map((v) => (v.entry.entry.body as AuditEvent).patientId)
  }

  it('a patient sees only their own trail, however they ask (HTTP, libp2p, naming another patient)', async () => {
    const http = await overHttp(1, '', session('alice'))
    expect(http.status).toBe(200)
    const mine = patients(http.body as QueryAnswerJson, 'MRN-A')
    expect(mine.filter((p) => p === 'MRN-A').length).toBeGreaterThanOrEqual(5)
    expect(new Set(mine)).toEqual(new Set(['MRN-A']))
    expect(http.body.filter).toEqual({ patient: 'MRN-A' })

    const named = await overHttp(2, 'patient=MRN-B', session('alice'))
    expect(named.status).toBe(403)
    expect(named.body.error).toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'other-patient' },
    })
    const cookie = await overHttp(0, 'patient=MRN-B&action=read', {
      cookie: `ehrlog_session=${tokens.alice}`,
    })
    expect(cookie.status).toBe(403)

    const p2p = await overLibp2p(0, tokens.alice!)
    expect(new Set(patients(p2p, 'MRN-A'))).toEqual(new Set(['MRN-A']))
    await expect(overLibp2p(1, tokens.alice!, { patient: 'MRN-B' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'other-patient' },
    })
    await expect(overLibp2p(1, tokens.unbound!)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'unbound' },
    })
  })

  it('an auditor sees every trail once approved, nothing while pending', async () => {
    await expect(overLibp2p(0, tokens.audit!)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'pending' },
    })
    const pending = await overHttp(1, 'patient=MRN-A', session('audit'))
    expect(pending.status).toBe(403)
    expect(pending.body.error.details.reason).toBe('pending')

    const admin = login(nodes[0]!.auth, 'admin@hospital-a').claims
    await nodes[0]!.auth.approve(admin, 'audit@hospital-a')
    await waitFor('approval everywhere', () =>
      nodes.every((n) => n.auth.directory.get('audit@hospital-a')?.status === 'active'),
    )
    const all = await overLibp2p(2, tokens.audit!, { action: 'read' })
    const seen = new Set(patients(all))
    expect(seen).toEqual(new Set(['MRN-A', 'MRN-B']))
    const one = await overHttp(1, 'patient=MRN-B&limit=2', session('audit'))
    expect(one.status).toBe(200)
    expect(patients(one.body as QueryAnswerJson)).toEqual(['MRN-B', 'MRN-B'])
    expect(one.body.next).toEqual(expect.any(String))
  })

  it('no session, a forged, expired, ended or revoked one: 401 with the reason', async () => {
    const none = await overHttp(0, '', {})
    expect(none.status).toBe(401)
    expect(none.body.error.code).toBe('UNAUTHORIZED')
    await expect(overLibp2p(0, '')).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    const forged = `${tokens.alice!.split('.')[0]}.${tokens.bob!.split('.')[1]}`
    expect((await overHttp(0, '', { authorization: `Session ${forged}` })).status).toBe(401)

    const claims = login(nodes[0]!.auth, 'alice@hospital-a').claims
    const expired = await signedToken(dirs[0]!, { ...claims, exp: Date.now() - 1000 })
    await expect(overLibp2p(1, expired)).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      details: { reason: 'expired' },
    })

    const temp = login(nodes[0]!.auth, 'alice@hospital-a')
    await nodes[0]!.auth.logout(temp.claims)
    await expect(overLibp2p(0, temp.token)).rejects.toMatchObject({
      details: { reason: 'ended' },
    })

    const admin = login(nodes[0]!.auth, 'admin@hospital-a').claims
    await nodes[0]!.auth.revoke(admin, 'eve@hospital-a')
    await waitFor('revocation everywhere', () =>
      nodes.every((n) => n.auth.directory.get('eve@hospital-a')?.status === 'revoked'),
    )
    const revoked = await overHttp(2, '', { authorization: `Session ${tokens.eve}` })
    expect(revoked.status).toBe(401)
    expect(revoked.body.error.details.reason).toBe('revoked')
  })

  it('bad parameters are 400 naming the field, and nothing is recorded for them', async () => {
    const before = nodes[1]!.store.size('hospital-b')
    for (const [query, field] of [
      ['action=peek', 'action'],
      ['limit=5000', 'limit'],
      ['cursor=%21%21', 'cursor'],
      ['patientId=MRN-A', 'patientId'],
      ['from=yesterday', 'from'],
    ]) {
      const r = await overHttp(1, query!, session('admin'))
      expect(r.status, query).toBe(400)
      expect(r.body.error).toMatchObject({ code: 'ARGUMENT_INVALID', details: { field } })
    }
    expect(nodes[1]!.store.size('hospital-b')).toBe(before)
  })

  it("every query is an audit event in the answering node's feed: who looked at whose trail", async () => {
    const c = nodes[2]!
    const before = c.store.size('hospital-c')
    await overLibp2p(2, tokens.admin!, { patient: 'MRN-B', action: 'read' })
    await overLibp2p(2, tokens.admin!, { action: 'read' })
    await overLibp2p(2, tokens.alice!, { patient: 'MRN-B' }).catch(() => {})
    const recorded = await bodiesAfter(c.store, 'hospital-c', before)
    expect(recorded).toEqual([
      expect.objectContaining({
        patientId: 'MRN-B',
        actorId: 'admin@hospital-a',
        action: 'query',
        resource: 'audit_log',
        outcome: 'success',
        detail: 'admin of hospital-a, asking hospital-c',
        notes: 'via libp2p, filter {"action":"read","patient":"MRN-B"}',
      }),
      expect.objectContaining({ patientId: '*', actorId: 'admin@hospital-a', outcome: 'success' }),
      expect.objectContaining({
        patientId: 'MRN-B',
        actorId: 'alice@hospital-a',
        outcome: 'failure',
        detail: 'refused (other-patient), patient account of hospital-a',
        notes: 'via libp2p, filter fields patient (values not recorded: refused)',
      }),
    ])
    // Bob, the patient whose trail was looked at, sees who looked, including the refused attempt.
    await waitFor('query events replicated', () => nodes[0]!.store.size('hospital-c') >= before + 3)
    const bobs = patients(await overLibp2p(0, tokens.bob!, { action: 'query' }), 'MRN-B')
    expect(bobs.length).toBeGreaterThanOrEqual(2)
  })

  it('past its query rate a user gets 429 with Retry-After, or RATE_LIMITED over libp2p; those are not recorded', async () => {
    const c = nodes[2]!
    const before = c.store.size('hospital-c')
    for (let i = 0; i < QUERY_BURST_AT_C; i++) {
      const ok = await overHttp(2, '', session('bob'))
      expect(ok.status, `query ${i + 1}`).toBe(200)
    }
    const response = await fetch(`${c.httpUrl}/api/v1/query`, { headers: session('bob') })
    expect(response.status).toBe(429)
    // One query a minute comes back: the next in up to 60 s.
    const retryAfter = Number(response.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    const body = (await response.json()) as HttpBody
    expect(body.error).toMatchObject({
      code: 'RATE_LIMITED',
      details: { field: 'session', retryAfterSeconds: retryAfter, perMinute: 1 },
    })
    expect(body.error).toMatchObject({
      message: expect.stringMatching(/^bob@hospital-a has run more queries/),
    })
    // The same user over libp2p: one bucket per user, whatever the transport.
    await expect(overLibp2p(2, tokens.bob!)).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      details: { node: 'hospital-c', retryAfterSeconds: expect.any(Number) },
    })
    // Per user, per node: alice still gets answers here, bob at another node.
    expect((await overHttp(2, '', session('alice'))).status).toBe(200)
    expect((await overHttp(1, '', session('bob'))).status).toBe(200)
    await waitFor(
      'query records',
      () => c.store.size('hospital-c') >= before + QUERY_BURST_AT_C + 1,
    )
    const recorded = await bodiesAfter(c.store, 'hospital-c', before)
    expect(recorded.map((e) => e.actorId)).toEqual([
      ...Array(QUERY_BURST_AT_C).fill('bob@hospital-a'),
      'alice@hospital-a',
    ])
  })

  it('HEAD on the query route is 405 without running the query, so nothing is recorded', async () => {
    const c = nodes[2]!
    const before = c.store.size('hospital-c')
    const head = await fetch(`${c.httpUrl}/api/v1/query?patient=MRN-A`, {
      method: 'HEAD',
      headers: session('admin'),
    })
    expect(head.status).toBe(405)
    expect(head.headers.get('allow')).toBe('GET')
    expect(await head.text()).toBe('')
    const post = await fetch(`${c.httpUrl}/api/v1/query`, {
      method: 'POST',
      headers: session('admin'),
    })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET')
    // A GET right after is recorded: the store would have shown a HEAD's record before it.
    expect((await overHttp(2, 'patient=MRN-A', session('admin'))).status).toBe(200)
    await waitFor('the GET recorded', () => c.store.size('hospital-c') > before)
    const recorded = await bodiesAfter(c.store, 'hospital-c', before)
    expect(recorded).toEqual([
      expect.objectContaining({
        actorId: 'admin@hospital-a',
        notes: 'via http, filter {"patient":"MRN-A"}',
      }),
    ])
  })
})
