import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { AuthService, LOGIN_FAILED, UserDirectory } from '../../node/auth/index.ts'
import {
  deriveLoginKey,
  newKdfParams,
  signLoginChallenge,
} from '../../node/core/auth/password-key.ts'
import type { UserRecord } from '../../node/core/auth/user-record.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15

/** Two nodes sharing one replicated directory (as gossip would make it), each with its own key. */
function network() {
  const directory = new UserDirectory()
  const keys = new Map<string, ReturnType<typeof generateKeyPairSync>>()
  const feed: Array<[string, UserRecord]> = []
  const make = (node: string) => {
    const pair = generateKeyPairSync('ed25519')
    keys.set(node, pair)
    return new AuthService({
      node,
      signingKey: pair.privateKey,
      memberKey: (n) => (keys.get(n) ? ed25519RawPublicKey(keys.get(n)!.privateKey) : undefined),
      directory,
      secret: randomBytes(32),
      append: async (records) => {
        for (const r of records) {
          feed.push([node, r])
          directory.apply(node, r)
        }
      },
    })
  }
  return { a: make('hospital-a'), b: make('hospital-b'), directory, feed }
}

async function account(
  service: AuthService,
  username: string,
  password: string,
  role: 'patient' | 'auditor' | 'admin' = 'patient',
  enrollmentCode?: string,
) {
  const kdf = newKdfParams(FAST)
  const key = deriveLoginKey(username, password, kdf)
  const input = {
    username,
    name: username,
    role,
    publicKey: toHex(key.publicKey),
    kdf,
    ...(enrollmentCode ? { enrollmentCode } : {}),
  }
  return role === 'admin' ? service.bootstrapAdmin(input) : service.register(input)
}

function login(service: AuthService, username: string, password: string, client = '127.0.0.1') {
  const c = service.challenge(username)
  const key = deriveLoginKey(username, password, c.kdf)
  const signature = signLoginChallenge(
    key,
    loginMessage(c.node, username, fromHex(c.nonce, 32)!, c.expiresMs),
  )
  return {
    challenge: c,
    signature: toHex(signature),
    result: () => service.login(username, c.nonce, toHex(signature), client),
  }
}

describe('sign-in without the password on the wire', () => {
  it('register, log in, and the session works at another node', async () => {
    const { a, b } = network()
    await account(a, 'anish@hospital-a', 'correct horse')
    const { token, claims } = login(a, 'anish@hospital-a', 'correct horse').result()
    expect(claims).toMatchObject({ sub: 'anish@hospital-a', role: 'patient', iss: 'hospital-a' })
    expect(b.authenticate(token)).toMatchObject({ sub: 'anish@hospital-a', status: 'active' })
  })

  it('a wrong password, a replayed transcript and an unknown user all fail alike', async () => {
    const { a } = network()
    await account(a, 'anish@hospital-a', 'correct horse')
    expect(() => login(a, 'anish@hospital-a', 'wrong').result()).toThrow(LOGIN_FAILED)
    const attempt = login(a, 'anish@hospital-a', 'correct horse')
    attempt.result()
    expect(() =>
      a.login('anish@hospital-a', attempt.challenge.nonce, attempt.signature, 'x'),
    ).toThrow(LOGIN_FAILED)
    const ghost = a.challenge('nobody@hospital-a')
    const real = a.challenge('anish@hospital-a')
    expect(Object.keys(ghost).sort()).toEqual(Object.keys(real).sort())
    expect(ghost.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 15, r: 8, p: 1 })
    expect(a.challenge('nobody@hospital-a').kdf.salt).toBe(ghost.kdf.salt) // stable: no tell-tale change
    expect(() => login(a, 'nobody@hospital-a', 'x').result()).toThrow(LOGIN_FAILED)
  })

  it('failed logins are rate-limited per user', async () => {
    const { a } = network()
    await account(a, 'anish@hospital-a', 'pw')
    for (let i = 0; i < 5; i++)
      expect(() => login(a, 'anish@hospital-a', 'bad', `10.0.0.${i}`).result()).toThrow(
        LOGIN_FAILED,
      )
    expect(() => login(a, 'anish@hospital-a', 'pw', '10.0.0.9').result()).toThrow(
      /^this username had many failed sign-ins: it takes one try per 60 s for now: try again in \d+ s$/,
    )
  })

  it('auditors wait for an admin; patients bind with an enrollment code; logout and revocation work everywhere', async () => {
    const { a, b } = network()
    await account(a, 'admin@hospital-a', 'admin pw', 'admin')
    const admin = login(a, 'admin@hospital-a', 'admin pw').result().claims
    await account(a, 'audit@hospital-a', 'audit pw', 'auditor')
    const auditorSession = login(a, 'audit@hospital-a', 'audit pw').result()
    expect(a.authenticate(auditorSession.token).status).toBe('pending')
    await a.approve(admin, 'audit@hospital-a')
    expect(b.authenticate(auditorSession.token).status).toBe('active')

    await expect(a.enroll(admin, '*')).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
      details: { field: 'patientId' },
    })
    await expect(a.enroll(admin, ' * ')).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' })
    const { code } = await a.enroll(admin, 'MRN-1')
    await account(a, 'anish@hospital-a', 'pw', 'patient', code)
    const patient = login(a, 'anish@hospital-a', 'pw').result()
    expect(b.authenticate(patient.token)).toMatchObject({ patientId: 'MRN-1' })
    await expect(account(a, 'other@hospital-a', 'pw', 'patient', code)).rejects.toThrow(
      /unknown, used or expired/,
    )

    const patientClaims = b.authenticate(patient.token)
    await expect(a.approve(patientClaims, 'audit@hospital-a')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await a.logout(patientClaims)
    expect(() => b.authenticate(patient.token)).toThrow(/ended/)
    await a.revoke(admin, 'audit@hospital-a')
    expect(() => b.authenticate(auditorSession.token)).toThrow(/revoked/)
  })

  it('refuses a forged token, another node registering a foreign user, and a taken username', async () => {
    const { a, b } = network()
    await account(a, 'anish@hospital-a', 'pw')
    const { token } = login(a, 'anish@hospital-a', 'pw').result()
    const [body, sig] = token.split('.')
    const forged = `${Buffer.from(Buffer.from(body!, 'base64url').toString().replace('"patient"', '"auditor"')).toString('base64url')}.${sig}`
    expect(() => b.authenticate(forged)).toThrow(/not signed by hospital-a/)
    await expect(account(b, 'eve@hospital-a', 'pw')).rejects.toThrow(/at its home node hospital-a/)
    await expect(account(a, 'anish@hospital-a', 'pw2')).rejects.toThrow(/taken/)
  })
})
