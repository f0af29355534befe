import { generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createAdminOffline } from '../../client/commands/user.ts'
import type { CliContext } from '../../client/context.ts'
import { LOGIN_FAILED } from '../../node/auth/index.ts'
import {
  deriveLoginKey,
  type KdfParams,
  newKdfParams,
  signLoginChallenge,
} from '../../node/core/auth/password-key.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15
const ADMIN = { username: 'admin@hospital-a', name: 'Admin A', password: 'admin password a' }

const quiet: CliContext = { out: () => {}, err: () => {}, env: {}, kdfCost: FAST }

interface Answer {
  status: number
  headers: Headers
  body: Record<string, unknown>
}

async function call(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} }
}

/** A signed login request for `password`, as a device would build it (not yet sent). */
async function signedLogin(url: string, username: string, password: string) {
  const challenge = await call(url, 'POST', '/api/v1/auth/challenge', { username })
  expect(challenge.status).toBe(200)
  const c = challenge.body as { node: string; nonce: string; expiresMs: number; kdf: KdfParams }
  const key = deriveLoginKey(username, password, c.kdf)
  const message = loginMessage(c.node, username, fromHex(c.nonce, 32)!, c.expiresMs)
  return {
    challenge: c,
    login: { username, nonce: c.nonce, signature: toHex(signLoginChallenge(key, message)) },
  }
}

async function loginAs(url: string, username: string, password: string): Promise<string> {
  const { login } = await signedLogin(url, username, password)
  const answer = await call(url, 'POST', '/api/v1/auth/login', login)
  expect(answer.status).toBe(200)
  return answer.body.token as string
}

async function register(url: string, username: string, password: string, extra = {}) {
  const kdf = newKdfParams(FAST)
  const publicKey = toHex(deriveLoginKey(username, password, kdf).publicKey)
  return call(url, 'POST', '/api/v1/users/register', {
    username,
    name: username.split('@')[0],
    role: 'patient',
    publicKey,
    kdf,
    ...extra,
  })
}

const session = (token: string) => ({ authorization: `Session ${token}` })

describe('auth HTTP API', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  /** A network whose hospital-a has an admin (created offline, as `ehrlog user create` does). */
  async function network(count = 2): Promise<string[]> {
    const { dirs } = await initNetwork(await tempDir(), count)
    await createAdminOffline(quiet, dirs[0]!, ADMIN)
    nodes = await startNodes(dirs)
    return nodes.map((n) => n.httpUrl)
  }

  it('signs in without the password; replays, unknown users and wrong passwords fail alike', async () => {
    const [a, b] = await network()
    const registered = await register(a!, 'anish@hospital-a', 'correct horse battery')
    expect(registered).toMatchObject({
      status: 201,
      body: { username: 'anish@hospital-a', role: 'patient', status: 'active' },
    })

    const { login } = await signedLogin(a!, 'anish@hospital-a', 'correct horse battery')
    const ok = await call(a!, 'POST', '/api/v1/auth/login', login)
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({
      claims: { sub: 'anish@hospital-a', role: 'patient', iss: 'hospital-a' },
      status: 'active',
    })
    expect(ok.headers.get('set-cookie')).toBeNull() // only when asked for
    const token = ok.body.token as string

    // The same transcript again: the nonce was consumed.
    const replay = await call(a!, 'POST', '/api/v1/auth/login', login)
    expect(replay.status).toBe(401)
    expect(replay.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: LOGIN_FAILED })

    const wrong = await signedLogin(a!, 'anish@hospital-a', 'wrong horse')
    const refused = await call(a!, 'POST', '/api/v1/auth/login', wrong.login)
    expect(refused).toMatchObject({ status: 401, body: { error: { message: LOGIN_FAILED } } })

    // An unknown username: a challenge of the same shape, the same failure.
    const ghost = await signedLogin(a!, 'ghost@hospital-a', 'anything at all')
    expect(Object.keys(ghost.challenge).sort()).toEqual(Object.keys(wrong.challenge).sort())
    expect(Object.keys(ghost.challenge.kdf).sort()).toEqual(Object.keys(wrong.challenge.kdf).sort())
    const ghostAnswer = await call(a!, 'POST', '/api/v1/auth/login', ghost.login)
    expect(ghostAnswer.status).toBe(401)
    expect(ghostAnswer.body).toEqual(refused.body)

    // The session works at another node (once the account's records have reached it); the
    // answer names who checked it and who issued it.
    await waitFor('the account at hospital-b', async () => {
      const r = await call(b!, 'GET', '/api/v1/auth/whoami', undefined, session(token))
      return r.status === 200
    })
    const me = await call(b!, 'GET', '/api/v1/auth/whoami', undefined, session(token))
    expect(me).toMatchObject({
      status: 200,
      body: { username: 'anish@hospital-a', role: 'patient', status: 'active', node: 'hospital-b' },
    })
    expect(me.body.issuer).toBe('hospital-a')

    // Sign-in happens at the home node only (its failure count throttles guessing).
    const elsewhere = await call(b!, 'POST', '/api/v1/auth/challenge', {
      username: 'anish@hospital-a',
    })
    expect(elsewhere.status).toBe(400)
    expect(elsewhere.body.error).toMatchObject({ details: { field: 'username' } })
    // ...and so does logout: a record about another node's user would stall b's feed.
    const wrongNode = await call(b!, 'POST', '/api/v1/auth/logout', undefined, session(token))
    expect(wrongNode.status).toBe(400)

    expect((await call(a!, 'POST', '/api/v1/auth/logout', undefined, session(token))).status).toBe(
      204,
    )
    for (const url of [a!, b!])
      await waitFor('the logout to reach every node', async () => {
        const r = await call(url, 'GET', '/api/v1/auth/whoami', undefined, session(token))
        return r.status === 401
      })
    const after = await call(b!, 'GET', '/api/v1/auth/whoami', undefined, session(token))
    expect(after.body.error).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'ended' } })
  })

  it('sets an HttpOnly SameSite=Strict cookie when asked, and refuses it from another site', async () => {
    const [a] = await network(1)
    await register(a!, 'anish@hospital-a', 'correct horse battery')
    const { login } = await signedLogin(a!, 'anish@hospital-a', 'correct horse battery')
    const answer = await call(a!, 'POST', '/api/v1/auth/login', { ...login, cookie: true })
    expect(answer.status).toBe(200)
    expect(answer.body.token).toBeUndefined() // the page's scripts never see it
    const setCookie = answer.headers.get('set-cookie')!
    expect(setCookie).toMatch(
      /^ehrlog_session=[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    )
    const cookie = { cookie: `theme=dark; ${setCookie.split(';')[0]}` }

    const me = await call(a!, 'GET', '/api/v1/auth/whoami', undefined, cookie)
    expect(me.body).toMatchObject({ username: 'anish@hospital-a', status: 'active' })

    const crossSite = await call(a!, 'POST', '/api/v1/auth/logout', undefined, {
      ...cookie,
      origin: 'https://evil.example',
    })
    expect(crossSite.status).toBe(403)
    expect(crossSite.body.error).toMatchObject({ code: 'FORBIDDEN', details: { field: 'Origin' } })
    expect((await call(a!, 'GET', '/api/v1/auth/whoami', undefined, cookie)).status).toBe(200)

    const out = await call(a!, 'POST', '/api/v1/auth/logout', undefined, {
      ...cookie,
      'sec-fetch-site': 'same-origin',
    })
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toMatch(/^ehrlog_session=; .*HttpOnly.*Max-Age=0$/)
    expect((await call(a!, 'GET', '/api/v1/auth/whoami', undefined, cookie)).status).toBe(401)
  })

  it('rate-limits failed logins with 429 and Retry-After', async () => {
    const [a] = await network(1)
    await register(a!, 'anish@hospital-a', 'correct horse battery')
    for (let i = 0; i < 5; i++) {
      const { login } = await signedLogin(a!, 'anish@hospital-a', `guess number ${i}`)
      expect((await call(a!, 'POST', '/api/v1/auth/login', login)).status).toBe(401)
    }
    const { login } = await signedLogin(a!, 'anish@hospital-a', 'correct horse battery')
    const limited = await call(a!, 'POST', '/api/v1/auth/login', login)
    expect(limited.status).toBe(429)
    expect(limited.body.error).toMatchObject({ code: 'RATE_LIMITED' })
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(800)
  })

  it('approve, enroll and revoke need an admin session of the node', async () => {
    const [a, b] = await network()
    const admin = await loginAs(a!, ADMIN.username, ADMIN.password)
    const kdf = newKdfParams(FAST)
    const auditorKey = deriveLoginKey('audit@hospital-a', 'auditor password', kdf)
    const auditor = await call(a!, 'POST', '/api/v1/users/register', {
      username: 'audit@hospital-a',
      name: 'Audit Co',
      role: 'auditor',
      publicKey: toHex(auditorKey.publicKey),
      kdf,
    })
    expect(auditor).toMatchObject({ status: 201, body: { role: 'auditor', status: 'pending' } })
    expect(auditor.body.note).toMatch(/pending: an admin of hospital-a must approve/)

    const approve = { username: 'audit@hospital-a' }
    expect((await call(a!, 'POST', '/api/v1/users/approve', approve)).status).toBe(401)
    const auditorToken = await loginAs(a!, 'audit@hospital-a', 'auditor password')
    const byAuditor = await call(
      a!,
      'POST',
      '/api/v1/users/approve',
      approve,
      session(auditorToken),
    )
    expect(byAuditor.status).toBe(403)
    expect(byAuditor.body.error).toMatchObject({ code: 'FORBIDDEN' })
    // An admin's session is accepted at b, but a's accounts are approved at a only.
    expect((await call(b!, 'POST', '/api/v1/users/approve', approve, session(admin))).status).toBe(
      403,
    )
    const approved = await call(a!, 'POST', '/api/v1/users/approve', approve, session(admin))
    expect(approved).toMatchObject({ status: 200, body: { status: 'active' } })

    const enrolled = await call(
      a!,
      'POST',
      '/api/v1/users/enroll',
      { patientId: '9' },
      session(admin),
    )
    expect(enrolled.status).toBe(200)
    expect(enrolled.body).toMatchObject({ patientId: '9', code: expect.any(String) })
    const patient = await register(a!, 'john_cena@hospital-a', 'john password', {
      enrollmentCode: enrolled.body.code,
    })
    expect(patient.body).toMatchObject({ status: 'active', patientId: '9' })
    const reused = await register(a!, 'other@hospital-a', 'other password', {
      enrollmentCode: enrolled.body.code,
    })
    expect(reused).toMatchObject({
      status: 400,
      body: { error: { details: { field: 'enrollmentCode' } } },
    })

    const revoked = await call(a!, 'POST', '/api/v1/users/revoke', approve, session(admin))
    expect(revoked).toMatchObject({ status: 200, body: { status: 'revoked' } })
    await waitFor('the revocation at b', async () => {
      const r = await call(b!, 'GET', '/api/v1/auth/whoami', undefined, session(auditorToken))
      return r.status === 401
    })
    const { login } = await signedLogin(a!, 'audit@hospital-a', 'auditor password')
    expect((await call(a!, 'POST', '/api/v1/auth/login', login)).body.error).toMatchObject({
      message: LOGIN_FAILED,
    })
  })

  it('answers bad input with 4xx JSON naming the field, and writes nothing', async () => {
    const [a] = await network(1)
    const node = nodes[0]!
    let size = node.store.size('hospital-a')
    const kdf = newKdfParams(FAST)
    const good = {
      username: 'anish@hospital-a',
      name: 'Anish',
      role: 'patient',
      publicKey: toHex(ed25519RawPublicKey(generateKeyPairSync('ed25519').privateKey)),
      kdf,
    }
    const { username: _u, ...noUsername } = good
    const cases: Array<[string, string, unknown, number, string]> = [
      ['/api/v1/users/register', 'missing username', noUsername, 400, 'username'],
      ['/api/v1/users/register', 'bad username', { ...good, username: 'Anish' }, 400, 'username'],
      [
        '/api/v1/users/register',
        'foreign home',
        { ...good, username: 'x@hospital-b' },
        400,
        'username',
      ],
      ['/api/v1/users/register', 'admin role', { ...good, role: 'admin' }, 400, 'role'],
      ['/api/v1/users/register', 'control characters', { ...good, name: 'A\u0007' }, 400, 'name'],
      ['/api/v1/users/register', 'a lone surrogate', { ...good, name: 'A\uD800' }, 400, 'name'],
      ['/api/v1/users/register', 'a noncharacter', { ...good, name: 'A\uFFFE' }, 400, 'name'],
      ['/api/v1/users/register', 'short key', { ...good, publicKey: 'abcd' }, 400, 'publicKey'],
      [
        '/api/v1/users/register',
        'long salt',
        { ...good, kdf: { ...kdf, salt: 'ab'.repeat(65) } },
        400,
        'kdf.salt',
      ],
      ['/api/v1/users/register', 'huge N', { ...good, kdf: { ...kdf, N: 2 ** 30 } }, 400, 'kdf'],
      ['/api/v1/users/register', 'unknown field', { ...good, password: 'x' }, 400, 'password'],
      ['/api/v1/users/register', 'not JSON', '{"username": ', 400, 'body'],
      ['/api/v1/users/register', 'an array', [good], 400, 'body'],
      ['/api/v1/auth/challenge', 'missing username', {}, 400, 'username'],
      [
        '/api/v1/auth/login',
        'missing signature',
        { username: good.username, nonce: 'ab' },
        400,
        'signature',
      ],
    ]
    for (const [path, name, body, status, field] of cases) {
      const answer = await call(a!, 'POST', path, body)
      expect({ name, status: answer.status }).toEqual({ name, status })
      expect({
        name,
        field: (answer.body.error as { details: { field: string } }).details.field,
      }).toEqual({ name, field })
    }
    const noType = await fetch(`${a}/api/v1/auth/challenge`, { method: 'POST', body: 'x' })
    expect(noType.status).toBe(415)
    const getLogin = await fetch(`${a}/api/v1/auth/login`)
    expect(getLogin.status).toBe(405)
    const bearer = await call(a!, 'GET', '/api/v1/auth/whoami', undefined, {
      authorization: 'Bearer not-a-session',
    })
    expect(bearer.body.error).toMatchObject({
      code: 'UNAUTHORIZED',
      details: { field: 'Authorization' },
    })
    const forged = await call(a!, 'GET', '/api/v1/auth/whoami', undefined, session('abc.def'))
    expect(forged.status).toBe(401)
    // Behind the routes, the node itself never appends a user record its peers would refuse
    // (a refused entry would stall the replication of its whole feed).
    await expect(
      node.auth.register({ ...good, role: 'patient', name: 'A\u0007' }),
    ).rejects.toMatchObject({
      code: 'ENTRY_INVALID',
    })
    // A logout may be recorded by any member (the end of a session is no one's secret), so
    // one at a node other than the user's home replicates like any other record.
    await node.auth.logout({
      v: 1,
      sub: 'x@hospital-b',
      role: 'patient',
      iss: 'hospital-b',
      sid: 'ab'.repeat(16),
      iat: 0,
      exp: 1,
    })
    expect(node.auth.directory.isSessionEnded('ab'.repeat(16))).toBe(true)
    size += 1
    expect(node.store.size('hospital-a')).toBe(size)
  })

  it('limits registrations per client address', async () => {
    const [a] = await network(1)
    const kdf = newKdfParams(FAST)
    let last: Answer | undefined
    for (let i = 0; i < 31; i++) {
      last = await call(a!, 'POST', '/api/v1/users/register', {
        username: `user${i}@hospital-a`,
        name: `User ${i}`,
        role: 'patient',
        publicKey: toHex(ed25519RawPublicKey(generateKeyPairSync('ed25519').privateKey)),
        kdf,
      })
      if (i < 30) expect(last.status).toBe(201)
    }
    expect(last!.status).toBe(429)
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(3000)
  })
})
