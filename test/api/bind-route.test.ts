import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAdminOffline } from '../../client/commands/user.ts'
import type { CliContext } from '../../client/context.ts'
import { main } from '../../client/main.ts'
import {
  deriveLoginKey,
  type KdfParams,
  newKdfParams,
  signLoginChallenge,
} from '../../node/core/auth/password-key.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15
const ADMIN = { username: 'admin@hospital-a', name: 'Admin A', password: 'admin password a' }
const quiet: CliContext = { out: () => {}, err: () => {}, env: {}, kdfCost: FAST }

type Body = Record<string, unknown> & {
  error: { code: string; message: string; details: Record<string, unknown> }
}

async function call(url: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Session ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Body }
}

async function register(url: string, username: string, role = 'patient') {
  const kdf = newKdfParams(FAST)
  const publicKey = toHex(deriveLoginKey(username, `pw of ${username}`, kdf).publicKey)
  return call(url, '/api/v1/users/register', { username, name: 'N', role, publicKey, kdf })
}

async function loginAs(url: string, username: string, password = `pw of ${username}`) {
  const c = (await call(url, '/api/v1/auth/challenge', { username })).body as unknown as {
    node: string
    nonce: string
    expiresMs: number
    kdf: KdfParams
  }
  const key = deriveLoginKey(username, password, c.kdf)
  const signature = signLoginChallenge(
    key,
    loginMessage(c.node, username, fromHex(c.nonce, 32)!, c.expiresMs),
  )
  const answer = await call(url, '/api/v1/auth/login', {
    username,
    nonce: c.nonce,
    signature: toHex(signature),
  })
  expect(answer.status).toBe(200)
  return answer.body.token as string
}

describe('a patient who registered without a code binds the account later', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function network(): Promise<{ root: string; a: string; b: string }> {
    const root = await tempDir()
    const { dirs } = await initNetwork(root, 2)
    await createAdminOffline(quiet, dirs[0]!, ADMIN)
    nodes = await startNodes(dirs)
    return { root, a: nodes[0]!.httpUrl, b: nodes[1]!.httpUrl }
  }

  const enroll = async (url: string, patientId: string) => {
    const admin = await loginAs(url, ADMIN.username, ADMIN.password)
    const answer = await call(url, '/api/v1/users/enroll', { patientId }, admin)
    expect(answer.status).toBe(200)
    return answer.body.code as string
  }

  it('POST /api/v1/users/bind with the session: a bind record that replicates; refusals write nothing', async () => {
    const { a, b } = await network()
    const size = () => nodes[0]!.store.size('hospital-a')
    expect((await register(a, 'kim@hospital-a')).body.patientId).toBeUndefined()
    // Registering again is what stranded the patient: the name is taken.
    expect((await register(a, 'kim@hospital-a')).body.error.message).toMatch(/is taken/)
    const kim = await loginAs(a, 'kim@hospital-a')
    const before = size()

    expect((await call(a, '/api/v1/users/bind', { enrollmentCode: 'x' })).status).toBe(401)
    const unknown = await call(a, '/api/v1/users/bind', { enrollmentCode: 'not-a-code' }, kim)
    expect(unknown).toMatchObject({
      status: 400,
      body: { error: { code: 'ARGUMENT_INVALID', details: { field: 'enrollmentCode' } } },
    })
    const empty = await call(a, '/api/v1/users/bind', { enrollmentCode: ' ' }, kim)
    expect(empty.body.error.details).toEqual({ field: 'enrollmentCode' })
    const code = await enroll(a, 'MRN-7')
    const afterEnroll = size()
    expect(afterEnroll).toBe(before + 1)
    // At another node the session is valid (once kim's record has replicated there), but the
    // record belongs to the home node's feed.
    await waitFor('kim at b', () => nodes[1]!.auth.directory.get('kim@hospital-a') !== undefined)
    const elsewhere = await call(b, '/api/v1/users/bind', { enrollmentCode: code }, kim)
    expect(elsewhere).toMatchObject({
      status: 400,
      body: { error: { details: { home: 'hospital-a' } } },
    })
    expect(elsewhere.body.error.message).toMatch(/enter the code at hospital-a/)
    expect(size()).toBe(afterEnroll)

    const bound = await call(a, '/api/v1/users/bind', { enrollmentCode: code }, kim)
    expect(bound).toMatchObject({
      status: 200,
      body: { username: 'kim@hospital-a', role: 'patient', patientId: 'MRN-7' },
    })
    expect(size()).toBe(afterEnroll + 1)
    // The same session counts as bound at once, here and (once replicated) at every member.
    expect((await call(a, '/api/v1/auth/whoami', undefined, kim)).body.patientId).toBe('MRN-7')
    await waitFor('the binding at b', async () => {
      const who = await call(b, '/api/v1/auth/whoami', undefined, kim)
      return who.body.patientId === 'MRN-7'
    })

    // Once only: neither a second code nor another account with the used one.
    const again = await call(
      a,
      '/api/v1/users/bind',
      { enrollmentCode: await enroll(a, 'MRN-8') },
      kim,
    )
    expect(again).toMatchObject({ status: 400, body: { error: { details: { reason: 'bound' } } } })
    await register(a, 'lee@hospital-a')
    const lee = await loginAs(a, 'lee@hospital-a')
    const reused = await call(a, '/api/v1/users/bind', { enrollmentCode: code }, lee)
    expect(reused.body.error.details).toEqual({ field: 'enrollmentCode' })
    // Auditors are never bound to a patient.
    await register(a, 'audit@hospital-a', 'auditor')
    const auditor = await loginAs(a, 'audit@hospital-a')
    const code9 = await enroll(a, 'MRN-9')
    const byAuditor = await call(a, '/api/v1/users/bind', { enrollmentCode: code9 }, auditor)
    expect(byAuditor).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } })
  }, 60_000)

  it('`ehrlog user bind --code` with the saved session', async () => {
    const { root, a } = await network()
    await register(a, 'kim@hospital-a')
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
      configDir: join(root, 'config-kim'),
      kdfCost: FAST,
      passwordInput: async () => 'pw of kim@hospital-a',
    }
    expect(await main(['login', '--node', a, '--username', 'kim@hospital-a'], ctx)).toBe(0)
    out = ''
    expect(await main(['user', 'bind', '--code', 'wrong-code'], ctx)).not.toBe(0)
    expect(err).toMatch(/^ARGUMENT_INVALID: the enrollment code is unknown, used or expired/)
    err = ''
    const code = await enroll(a, 'MRN-7')
    expect(await main(['user', 'bind', '--code', code], ctx)).toBe(0)
    expect(err).toBe('')
    expect(out).toBe('bound kim@hospital-a to patient id MRN-7\n')
  }, 60_000)
})
