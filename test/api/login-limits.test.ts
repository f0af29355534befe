import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { AuthService, UserDirectory } from '../../node/auth/index.ts'
import {
  deriveLoginKey,
  type KdfParams,
  newKdfParams,
  signLoginChallenge,
} from '../../node/core/auth/password-key.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { ORIGIN, useApi } from './harness.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15

interface Answer {
  status: number
  retryAfter: string | undefined
  body: {
    token?: string
    cleared?: boolean
    error?: { code: string; message: string; details: Record<string, unknown> }
  }
}

/** One request on its own connection from `from` (any 127.x.y.z is this host on Linux). */
function post(
  url: string,
  path: string,
  body: unknown,
  from = '127.0.0.1',
  token?: string,
): Promise<Answer> {
  const data = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          ...(token ? { authorization: `Session ${token}` } : {}),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => {
          text += c
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
            body: text ? JSON.parse(text) : {},
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

/** An AuthService over an in-memory directory, with small tiers so a flood fits in a test. */
async function authWithAccounts(maxKeys: number) {
  const directory = new UserDirectory()
  const { privateKey } = generateKeyPairSync('ed25519')
  const service = new AuthService({
    node: ORIGIN,
    signingKey: privateKey,
    memberKey: (node) => (node === ORIGIN ? ed25519RawPublicKey(privateKey) : undefined),
    directory,
    secret: randomBytes(32),
    append: async (records) => {
      for (const r of records) directory.apply(ORIGIN, r)
    },
    loginLimits: { maxKeys },
  })
  const kdfs = new Map<string, KdfParams>()
  const add = async (username: string, role: 'patient' | 'admin') => {
    const kdf = newKdfParams(FAST)
    kdfs.set(username, kdf)
    const key = deriveLoginKey(username, `pw of ${username}`, kdf)
    const input = { username, name: username, role, publicKey: toHex(key.publicKey), kdf }
    if (role === 'admin') await service.bootstrapAdmin(input)
    else await service.register(input)
  }
  await add('admin@hospital-a', 'admin')
  await add('victim@hospital-a', 'patient')
  await add('anish@hospital-a', 'patient')
  return service
}

/** The real sign-in over HTTP: a challenge, then its signature with the password's key. */
async function signIn(url: string, username: string, from: string, password = `pw of ${username}`) {
  const c = await post(url, '/api/v1/auth/challenge', { username }, from)
  const challenge = c.body as unknown as {
    node: string
    nonce: string
    expiresMs: number
    kdf: KdfParams
  }
  const key = deriveLoginKey(username, password, challenge.kdf)
  const signature = signLoginChallenge(
    key,
    loginMessage(challenge.node, username, fromHex(challenge.nonce, 32)!, challenge.expiresMs),
  )
  return post(
    url,
    '/api/v1/auth/login',
    { username, nonce: challenge.nonce, signature: toHex(signature) },
    from,
  )
}

const bogus = (username: string) => ({
  username,
  nonce: '00'.repeat(32),
  signature: '00'.repeat(64),
})

describe('failed-login limits over HTTP (real sockets from many loopback addresses)', () => {
  const startApi = useApi()

  it('a flood of made-up usernames from 2,500 addresses does not unlock a locked account; an admin can', async () => {
    const auth = await authWithAccounts(1000)
    const { url } = await startApi({ auth: { service: auth, node: ORIGIN } })
    for (let i = 0; i < 5; i++)
      expect((await post(url, '/api/v1/auth/login', bogus('victim@hospital-a'))).status).toBe(401)
    const locked = await signIn(url, 'victim@hospital-a', '127.0.0.1')
    expect(locked.status).toBe(429)
    expect(locked.body.error?.details.reason).toBe('account-and-address')

    // 2,500 failed logins for made-up names, each from its own address: more than twice the
    // keys the limiter keeps below the limit, in parallel batches.
    for (let batch = 0; batch < 25; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, j) => {
          const i = batch * 100 + j
          return post(
            url,
            '/api/v1/auth/login',
            bogus(`made-up-${i}@hospital-a`),
            `127.2.${i & 255}.${1 + (i >> 8)}`,
          )
        }),
      )
      for (const a of answers) expect(a.status).toBe(401)
    }

    const still = await signIn(url, 'victim@hospital-a', '127.0.0.1')
    expect(still.status).toBe(429)
    expect(still.body.error?.details.reason).toBe('account-and-address')
    expect(still.body.error?.message).toMatch(
      /from your address \(5 in 15 minutes\): try again in 1[45] minutes$/,
    )
    expect(Number(still.retryAfter)).toBeGreaterThan(800)
    const elsewhere = await signIn(url, 'victim@hospital-a', '127.0.0.2')
    expect(elsewhere.status).toBe(429)
    expect(elsewhere.body.error?.details.reason).toBe('account-slowed')
    // The message reads the same for a username that does not exist.
    for (let i = 0; i < 5; i++) await post(url, '/api/v1/auth/login', bogus('nobody@hospital-a'))
    const ghost = await signIn(url, 'nobody@hospital-a', '127.0.0.1')
    expect(ghost.body.error?.message).toBe(still.body.error?.message)

    const admin = await signIn(url, 'admin@hospital-a', '127.0.0.3')
    expect(admin.status).toBe(200)
    const notAdmin = await signIn(url, 'anish@hospital-a', '127.0.0.3')
    const refused = await post(
      url,
      '/api/v1/users/unlock',
      { username: 'victim@hospital-a' },
      '127.0.0.3',
      notAdmin.body.token,
    )
    expect(refused.status).toBe(403)
    const unlocked = await post(
      url,
      '/api/v1/users/unlock',
      { username: 'victim@hospital-a' },
      '127.0.0.3',
      admin.body.token,
    )
    expect(unlocked).toMatchObject({ status: 200, body: { cleared: true } })
    expect((await signIn(url, 'victim@hospital-a', '127.0.0.1')).status).toBe(200)
  }, 120_000)

  it("five typos by a patient behind the hospital's shared address leave its admin able to sign in", async () => {
    const auth = await authWithAccounts(100_000)
    const { url, logs } = await startApi({ auth: { service: auth, node: ORIGIN } })
    const nat = '127.0.0.9'
    for (let i = 0; i < 5; i++) {
      const typo = await signIn(url, 'anish@hospital-a', nat, `typo ${i}`)
      expect(typo.status).toBe(401)
    }
    expect((await signIn(url, 'anish@hospital-a', nat)).status).toBe(429)
    const admin = await signIn(url, 'admin@hospital-a', nat)
    expect(admin.status).toBe(200)
    // The log says what happened: failed sign-ins, then the limit (not "API token").
    const warned = logs.filter((l) => l.level === 40).map((l) => l.msg)
    expect(warned).toEqual([
      ...Array(5).fill('failed sign-in'),
      'sign-in refused by the failed-login limit',
    ])
  })
})
