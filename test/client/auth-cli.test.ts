import { readFile, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { main } from '../../client/main.ts'
import { readStdinPassword } from '../../client/password-prompt.ts'
import { LOGIN_FAILED } from '../../node/auth/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15

interface Run {
  code: number
  out: string
  err: string
  /** Sources the CLI asked passwords from ('tty' or 'stdin'). */
  asked: string[]
}

/** The CLI in this process as one user: their own config folder, their password "typed". */
function userCli(configDir: string, password?: string) {
  return async (args: string[]): Promise<Run> => {
    let out = ''
    let err = ''
    const asked: string[] = []
    const ctx: CliContext = {
      out: (t) => {
        out += t
      },
      err: (t) => {
        err += t
      },
      env: {},
      configDir,
      kdfCost: FAST,
      passwordInput: async (_prompt, source) => {
        asked.push(source)
        if (password === undefined) throw new Error('no password expected')
        return password
      },
    }
    const code = await main(args, ctx)
    return { code, out, err, asked }
  }
}

interface Captured {
  method: string
  url: string
  headers: Record<string, unknown>
  body: string
}

/** An HTTP proxy in front of a node that records every request the CLI sends through it. */
async function captureProxy(
  target: string,
): Promise<{ url: string; requests: Captured[]; server: Server }> {
  const requests: Captured[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const body = Buffer.concat(chunks)
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: { ...req.headers },
        body: body.toString('utf8'),
      })
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method!,
        headers,
        ...(body.byteLength > 0 ? { body } : {}),
      })
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? '' })
      res.end(Buffer.from(await answer.arrayBuffer()))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server }
}

async function whoamiStatus(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/auth/whoami`, {
    headers: { authorization: `Session ${token}` },
  })
  await res.arrayBuffer()
  return res.status
}

describe('ehrlog register, login, logout, whoami and user', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  const servers: Server[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('admins from `user create`, a patient bound by an enrollment code, an auditor approved; sessions end everywhere', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root, 3)
    const config = (who: string) => join(root, 'config', who)
    const adminA = userCli(config('admin-a'), 'admin password a')
    const adminC = userCli(config('admin-c'), 'admin password c')
    const anish = userCli(config('anish'), 'anish password 1')
    const auditor = userCli(config('auditor'), 'auditor password')

    // Admins are created offline on the stopped nodes' folders.
    for (const [cli, dir, username] of [
      [adminA, dirs[0]!, 'admin@hospital-a'],
      [adminC, dirs[2]!, 'admin@hospital-c'],
    ] as const) {
      const created = await cli([
        'user',
        'create',
        '--dir',
        dir,
        '--username',
        username,
        '--name',
        'Admin',
        '--password-stdin',
      ])
      expect(created.err).toBe('')
      expect(created.out).toBe(`created ${username} (admin, active)\n`)
      expect(created.asked).toEqual(['stdin'])
    }
    const second = await userCli(
      config('x'),
      'second admin pw',
    )(['user', 'create', '--dir', dirs[0]!, '--username', 'boss@hospital-a', '--name', 'Boss'])
    expect(second.out).toMatch(
      /^created boss@hospital-a \(admin, pending\)\npending: hospital-a already has an admin/,
    )
    expect(second.asked).toEqual(['tty', 'tty']) // asked twice at a terminal

    nodes = await startNodes(dirs)
    const [a, b, c] = nodes.map((n) => n.httpUrl) as [string, string, string]
    const proxyC = await captureProxy(c)
    const proxyA = await captureProxy(a)
    servers.push(proxyC.server, proxyA.server)

    // Patient: the admin of hospital-c enrolls patient id 1, anish registers with the code.
    expect((await adminC(['login', '--node', c, '--username', 'admin@hospital-c'])).out).toMatch(
      /^logged in as admin@hospital-c \(admin, active\) until \d{4}-\d\d-\d\dT/,
    )
    const enrolled = await adminC(['user', 'enroll', '--patient-id', '1', '--json'])
    expect(enrolled.err).toBe('')
    const { code } = JSON.parse(enrolled.out) as { code: string }
    const registered = await anish([
      'register',
      '--node',
      proxyC.url,
      '--username',
      'anish@hospital-c',
      '--name',
      'Anish',
      '--enrollment-code',
      code,
    ])
    expect(registered.err).toBe('')
    expect(registered.out).toMatch(
      /^registered anish@hospital-c \(patient, active, patient id 1\)\n/,
    )
    const login = await anish(['login', '--node', proxyC.url, '--username', 'anish@hospital-c'])
    expect(login.err).toBe('')
    expect(login.out).toMatch(/^logged in as anish@hospital-c \(patient, active\) until \d{4}-/)

    // The saved session: 0600 in a 0700 folder.
    const sessionFile = join(config('anish'), 'session.json')
    expect((await stat(sessionFile)).mode & 0o777).toBe(0o600)
    expect((await stat(config('anish'))).mode & 0o777).toBe(0o700)
    const saved = JSON.parse(await readFile(sessionFile, 'utf8')) as { token: string; node: string }
    expect(saved.node).toBe(proxyC.url)

    // The token from hospital-c works at hospital-a.
    await waitFor('anish at hospital-a', async () => (await whoamiStatus(a, saved.token)) === 200)
    const me = await anish(['whoami', '--node', a])
    expect(me.err).toBe('')
    expect(me.out).toMatch(
      /^anish@hospital-c \(Anish\): patient, active, patient id 1\nsession issued by hospital-c, valid until .* \(checked by hospital-a\)\n$/,
    )

    // Nothing the client sent holds the password, in any encoding; the public key went out.
    const password = 'anish password 1'
    const sent = proxyC.requests
      .map((r) => `${r.url} ${JSON.stringify(r.headers)} ${r.body}`)
      .join('\n')
    for (const form of [
      password,
      Buffer.from(password).toString('hex'),
      Buffer.from(password).toString('base64'),
      Buffer.from(password).toString('base64url'),
      encodeURIComponent(password),
    ])
      expect(sent).not.toContain(form)
    const registerBody = JSON.parse(
      proxyC.requests.find((r) => r.url === '/api/v1/users/register')!.body,
    )
    expect(registerBody.publicKey).toMatch(/^[0-9a-f]{64}$/)
    expect(Object.keys(registerBody).sort()).toEqual([
      'enrollmentCode',
      'kdf',
      'name',
      'publicKey',
      'role',
      'username',
    ])

    // Replaying the captured login transcript fails.
    const captured = proxyC.requests.find((r) => r.url === '/api/v1/auth/login')!
    const replay = await fetch(`${c}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: captured.body,
    })
    expect(replay.status).toBe(401)
    expect(((await replay.json()) as { error: { message: string } }).error.message).toBe(
      LOGIN_FAILED,
    )

    // Auditor: pending until approved, then active.
    const reg = await auditor([
      'register',
      '--node',
      proxyA.url,
      '--username',
      'audit@hospital-a',
      '--name',
      'Audit Company',
      '--auditor',
    ])
    expect(reg.out).toMatch(
      /^registered audit@hospital-a \(auditor, pending\)\npending: an admin of hospital-a must approve it/,
    )
    expect((await auditor(['login', '--node', a, '--username', 'audit@hospital-a'])).out).toMatch(
      /^logged in as audit@hospital-a \(auditor, pending\) until .*\nnote: an admin of hospital-a must approve/,
    )
    expect((await auditor(['whoami'])).out).toMatch(
      /^audit@hospital-a \(Audit Company\): auditor, pending\n/,
    )
    await adminA(['login', '--node', a, '--username', 'admin@hospital-a'])
    const approved = await adminA(['user', 'approve', 'audit@hospital-a'])
    expect(approved).toMatchObject({ code: 0, out: 'approved audit@hospital-a: active\n' })
    expect((await auditor(['whoami'])).out).toMatch(/: auditor, active\n/) // at once at its home
    await waitFor('the approval at hospital-b', async () =>
      (await auditor(['whoami', '--node', b])).out.includes(': auditor, active\n'),
    )
    const auditorRequests = proxyA.requests.map((r) => r.body).join('\n')
    expect(auditorRequests).not.toContain('auditor password')

    // A patient cannot approve; an admin of another node cannot revoke here.
    const refused = await anish(['user', 'approve', 'boss@hospital-a'])
    expect(refused.code).toBe(7)
    expect(refused.err).toMatch(/^FORBIDDEN: /)

    // Logout ends the session at every node.
    const out = await anish(['logout'])
    expect(out).toMatchObject({
      code: 0,
      out: 'logged out anish@hospital-c: the session is ended at every node\n',
    })
    await expect(stat(sessionFile)).rejects.toMatchObject({ code: 'ENOENT' })
    for (const url of [a, b, c])
      await waitFor(
        `the logout at ${url}`,
        async () => (await whoamiStatus(url, saved.token)) === 401,
      )
    const gone = await anish(['whoami'])
    expect(gone.code).toBe(7)
    expect(gone.err).toMatch(/^UNAUTHORIZED: not logged in/)

    // An admin clears an account's failed-login limits (nothing to clear here).
    expect((await adminA(['user', 'unlock', 'audit@hospital-a'])).out).toBe(
      'audit@hospital-a had no failed sign-ins to clear\n',
    )

    // Revocation: the auditor's session ends everywhere and it can no longer log in.
    const auditorToken = (
      JSON.parse(await readFile(join(config('auditor'), 'session.json'), 'utf8')) as {
        token: string
      }
    ).token
    expect((await adminA(['user', 'revoke', 'audit@hospital-a'])).out).toBe(
      'revoked audit@hospital-a: revoked\n',
    )
    for (const url of [a, b, c])
      await waitFor(
        `the revocation at ${url}`,
        async () => (await whoamiStatus(url, auditorToken)) === 401,
      )
    const again = await auditor(['login', '--node', a, '--username', 'audit@hospital-a'])
    expect(again.code).toBe(7)
    expect(again.err).toBe(`UNAUTHORIZED: ${LOGIN_FAILED}\n`)
  }, 120_000)

  it('a wrong password and an unknown username fail alike; passwords only from a prompt or stdin', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root, 1)
    nodes = await startNodes(dirs)
    const url = nodes[0]!.httpUrl
    const cfg = join(root, 'cfg')
    await userCli(
      cfg,
      'right password',
    )(['register', '--node', url, '--username', 'anish@hospital-a', '--name', 'Anish'])

    const wrong = await userCli(
      cfg,
      'wrong password',
    )(['login', '--node', url, '--username', 'anish@hospital-a'])
    const ghost = await userCli(
      cfg,
      'wrong password',
    )(['login', '--node', url, '--username', 'ghost@hospital-a'])
    expect(wrong).toMatchObject({ code: 7, out: '' })
    expect(wrong.err).toBe(`UNAUTHORIZED: ${LOGIN_FAILED}\n`)
    expect(ghost.err).toBe(wrong.err)
    await expect(stat(join(cfg, 'session.json'))).rejects.toMatchObject({ code: 'ENOENT' })

    // There is no way to give a password on the command line.
    expect(
      (
        await userCli(cfg)([
          'login',
          '--node',
          url,
          '--username',
          'anish@hospital-a',
          '--password',
          'x',
        ])
      ).code,
    ).toBe(2)
    // Too short for a new account: refused before anything is sent.
    const short = await userCli(
      cfg,
      'short',
    )(['register', '--node', url, '--username', 'bob@hospital-a', '--name', 'Bob'])
    expect(short.err).toMatch(/^ARGUMENT_INVALID: the password has 5 characters: want at least 8/)
    // Without a context override and without a terminal, the CLI refuses rather than guess.
    let err = ''
    const noTty = await main(['login', '--node', url, '--username', 'anish@hospital-a'], {
      out: () => {},
      err: (t) => {
        err += t
      },
      env: {},
      configDir: cfg,
    })
    expect(noTty).toBe(2)
    expect(err).toMatch(/no terminal to ask for the password on: pipe it in with --password-stdin/)
    expect(
      (
        await userCli(
          cfg,
          'whatever pw',
        )(['login', '--node', 'ftp://x', '--username', 'anish@hospital-a'])
      ).err,
    ).toMatch(/^ARGUMENT_INVALID: --node "ftp:\/\/x" is not an http\(s\) URL/)
    // A bad username never reaches the node.
    expect(
      (await userCli(cfg, 'whatever pw')(['login', '--node', url, '--username', 'Anish'])).err,
    ).toMatch(/^ARGUMENT_INVALID: username "Anish" must be name@node/)
  }, 60_000)

  it('reads --password-stdin from a pipe, less one trailing newline', async () => {
    expect(await readStdinPassword(Readable.from([Buffer.from('pass word\n')]))).toBe('pass word')
    expect(await readStdinPassword(Readable.from([Buffer.from('pässword\r\n')]))).toBe('pässword')
    expect(await readStdinPassword(Readable.from([Buffer.from('a\n\n')]))).toBe('a\n')
    await expect(
      readStdinPassword(Readable.from([Buffer.alloc(2000, 0x61)])),
    ).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
    })
  })
})
