import { randomBytes, sign } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSessionToken, type SessionClaims } from '../../node/core/auth/session-token.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { login, register } from '../query/sessions.ts'

/** An answer body: the route's fields, or an error (docs/query.md). */
type Answer = Record<string, unknown> & {
  error?: { code: string; details: Record<string, unknown> }
}

/**
 * The insider of docs/storage.md: someone with hospital-a's key files mints a session for
 * hospital-c's admin and signs it with hospital-a's real key. Only an account's home node
 * signs its users in, so only it may issue their sessions.
 */
describe('a session is accepted only from the home node of its account (real nodes)', () => {
  let root: string
  let dirs: string[]
  let nodes: EhrlogNode[] = []

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-issuer-'))
    ;({ dirs } = await initNetwork(root))
    nodes = await startNodes(dirs)
    await register(nodes[2]!.auth, 'admin@hospital-c', 'admin')
    await waitFor('admin@hospital-c known at hospital-a', () =>
      nodes.every((n) => n.auth.directory.isActiveAdmin('admin@hospital-c')),
    )
  }, 60_000)

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    if (root) await rm(root, { recursive: true, force: true })
  })

  const post = async (i: number, path: string, token: string, body: object) => {
    const r = await fetch(`${nodes[i]!.httpUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Session ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: r.status, body: (await r.json()) as Answer }
  }
  const get = async (i: number, path: string, token: string) => {
    const r = await fetch(`${nodes[i]!.httpUrl}${path}`, {
      headers: { authorization: `Session ${token}` },
    })
    return { status: r.status, body: (await r.json()) as Answer }
  }

  async function mintedByHospitalA(claims: Partial<SessionClaims>): Promise<string> {
    const identity = await openNodeDir(dirs[0]!)
    const now = Date.now()
    const full: SessionClaims = {
      v: 1,
      sub: 'admin@hospital-c',
      role: 'admin',
      iss: 'hospital-a',
      sid: randomBytes(16).toString('hex'),
      iat: now,
      exp: now + 3600_000,
      ...claims,
    }
    return encodeSessionToken(full, (m) => new Uint8Array(sign(null, m, identity.signingKey)))
  }

  it("hospital-a's key cannot mint a session for hospital-c's admin: enroll, whoami and query refuse it", async () => {
    const forged = await mintedByHospitalA({})
    const c = nodes[2]!
    const before = c.store.size('hospital-c')
    const enroll = await post(2, '/api/v1/users/enroll', forged, { patientId: '8' })
    expect(enroll.status).toBe(401)
    expect(enroll.body.error).toMatchObject({
      code: 'UNAUTHORIZED',
      details: { reason: 'wrong-issuer' },
    })
    expect(enroll.body.code).toBeUndefined()
    for (const i of [0, 1, 2]) {
      expect((await get(i, '/api/v1/auth/whoami', forged)).status).toBe(401)
      const query = await get(i, '/api/v1/query?patient=8', forged)
      expect(query.status).toBe(401)
    }
    // Nothing was recorded for it: no enrollment, no query under admin@hospital-c's name.
    expect(c.store.size('hospital-c')).toBe(before)
    // Claiming hospital-c as issuer does not help: hospital-a's key does not verify for it.
    const claimed = await mintedByHospitalA({ iss: 'hospital-c' })
    const again = await post(2, '/api/v1/users/enroll', claimed, { patientId: '8' })
    expect(again.status).toBe(401)
    expect(c.store.size('hospital-c')).toBe(before)
  })

  it('a real session of admin@hospital-c, issued by hospital-c, still works at every node', async () => {
    const { token, claims } = login(nodes[2]!.auth, 'admin@hospital-c')
    expect(claims.iss).toBe('hospital-c')
    const enroll = await post(2, '/api/v1/users/enroll', token, { patientId: '8' })
    expect(enroll.status).toBe(200)
    expect(enroll.body.code).toEqual(expect.any(String))
    for (const i of [0, 1, 2]) {
      const who = await get(i, '/api/v1/auth/whoami', token)
      expect(who.status).toBe(200)
      expect(who.body).toMatchObject({ username: 'admin@hospital-c', issuer: 'hospital-c' })
    }
  })
})
