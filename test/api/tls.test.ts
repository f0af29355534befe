// HTTPS on a real node: a certificate made in the test by openssl, a real TLS client that
// trusts only that certificate, HSTS, Secure cookies, reload, and a reverse proxy's headers.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAdminOffline } from '../../client/commands/user.ts'
import type { CliContext } from '../../client/context.ts'
import { HSTS_VALUE } from '../../node/api/index.ts'
import {
  deriveLoginKey,
  type KdfParams,
  newKdfParams,
  signLoginChallenge,
} from '../../node/core/auth/password-key.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { loginMessage } from '../../node/core/layout.ts'
import { silentLogger } from '../../node/logger.ts'
import { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { httpsRequest, makeCertificate, type TestCertificate } from '../helpers/tls-cert.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 } // tests only: the default is 2^15
const quiet: CliContext = { out: () => {}, err: () => {}, env: {}, kdfCost: FAST }
const ADMIN = { username: 'admin@hospital-a', name: 'Admin A', password: 'admin password a' }
const PATIENT = 'anish@hospital-a'
const PASSWORD = 'correct horse battery'

async function setHttpConfig(dir: string, http: Record<string, unknown>): Promise<void> {
  const path = join(dir, 'config.json')
  const config = JSON.parse(await readFile(path, 'utf8'))
  config.http = { ...config.http, ...http }
  await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 })
}

type Send = (
  path: string,
  opts?: { method?: string; body?: unknown; headers?: Record<string, string> },
) => Promise<{ status: number; headers: Record<string, unknown>; body: string }>

/** Registers a patient and signs in with `cookie: true`; returns the login answer. */
async function cookieLogin(send: Send) {
  const kdf = newKdfParams(FAST)
  const registered = await send('/api/v1/users/register', {
    method: 'POST',
    body: {
      username: PATIENT,
      name: 'anish',
      role: 'patient',
      publicKey: toHex(deriveLoginKey(PATIENT, PASSWORD, kdf).publicKey),
      kdf,
    },
  })
  expect(registered.status).toBe(201)
  const challenge = await send('/api/v1/auth/challenge', {
    method: 'POST',
    body: { username: PATIENT },
  })
  const c = JSON.parse(challenge.body) as {
    node: string
    nonce: string
    expiresMs: number
    kdf: KdfParams
  }
  const key = deriveLoginKey(PATIENT, PASSWORD, c.kdf)
  const signature = signLoginChallenge(
    key,
    loginMessage(c.node, PATIENT, fromHex(c.nonce, 32)!, c.expiresMs),
  )
  return send('/api/v1/auth/login', {
    method: 'POST',
    body: { username: PATIENT, nonce: c.nonce, signature: toHex(signature), cookie: true },
  })
}

describe('HTTPS (config http.tls)', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  /** A one-node network serving HTTPS with a fresh certificate in DIR/tls/ (relative paths). */
  async function tlsNode(): Promise<{ node: EhrlogNode; dir: string; cert: TestCertificate }> {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const dir = dirs[0]!
    await mkdir(join(dir, 'tls'))
    const cert = await makeCertificate(join(dir, 'tls'), 'first')
    await setHttpConfig(dir, { tls: { cert: 'tls/first.crt', key: 'tls/first.key' } })
    await createAdminOffline(quiet, dir, ADMIN)
    nodes = await startNodes([dir])
    return { node: nodes[0]!, dir, cert }
  }

  it('serves the configured certificate to a client that trusts only it, with HSTS and Secure cookies', async () => {
    const { node, cert } = await tlsNode()
    expect(node.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const send: Send = (path, opts) => httpsRequest(`${node.httpUrl}${path}`, cert.certPem, opts)

    const status = await httpsRequest(`${node.httpUrl}/api/v1/status`, cert.certPem)
    expect(status.status).toBe(200)
    expect(status.fingerprint256).toBe(cert.fingerprint256)
    expect(status.headers['strict-transport-security']).toBe(HSTS_VALUE)

    const login = await cookieLogin(send)
    expect(login.status).toBe(200)
    expect(String(login.headers['set-cookie'])).toMatch(
      /^ehrlog_session=[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=\d+$/,
    )

    // A client that does not trust the certificate is refused by its own TLS stack, and a
    // plain-HTTP request to the port gets no answer from the API.
    await expect(httpsRequest(`${node.httpUrl}/healthz`, '')).rejects.toThrow()
    await expect(fetch(`${node.httpUrl.replace('https:', 'http:')}/healthz`)).rejects.toThrow()
  })

  it('reloads a renewed certificate for new connections, and keeps the old one when the new files are bad', async () => {
    const { node, dir, cert } = await tlsNode()
    const renewed = await makeCertificate(join(dir, 'tls'), 'second')
    const firstKey = await readFile(cert.keyFile)
    // Renewal replaces the files in place, as certbot's deploy hook or an operator does.
    await writeFile(join(dir, 'tls', 'first.crt'), renewed.certPem)
    await writeFile(join(dir, 'tls', 'first.key'), await readFile(renewed.keyFile))
    // Before the reload the old certificate is still served.
    expect((await httpsRequest(`${node.httpUrl}/healthz`, cert.certPem)).fingerprint256).toBe(
      cert.fingerprint256,
    )
    expect(await node.reloadTls()).toBe(true)
    const after = await httpsRequest(`${node.httpUrl}/healthz`, renewed.certPem)
    expect(after.status).toBe(200)
    expect(after.fingerprint256).toBe(renewed.fingerprint256)

    // A certificate with another certificate's key: refused, and the served one stays.
    await writeFile(join(dir, 'tls', 'first.key'), firstKey)
    const refused = await node.reloadTls().catch((err: unknown) => err)
    expect(isEhrlogError(refused, 'CONFIG_INVALID')).toBe(true)
    expect((refused as Error).message).toMatch(/first\.crt .*first\.key/)
    expect((await httpsRequest(`${node.httpUrl}/healthz`, renewed.certPem)).fingerprint256).toBe(
      renewed.fingerprint256,
    )
  })

  it("lets the CLI reach a local HTTPS node by pinning the folder's certificate", async () => {
    const { dir } = await tlsNode()
    const ok = await runCli(['status', '--dir', dir])
    expect(ok.err).toBe('')
    expect(ok.code).toBe(0)
    expect(ok.out).toContain('hospital-a')
    // The folder names another certificate than the one served: the pin refuses the node.
    const other = await makeCertificate(join(dir, 'tls'), 'other')
    await writeFile(join(dir, 'tls', 'first.crt'), other.certPem)
    const refused = await runCli(['status', '--dir', dir])
    expect(refused.code).not.toBe(0)
    expect(refused.err).toMatch(/^UNAVAILABLE: cannot reach the node at https:/)
  })

  it('does not start with an unreadable certificate: CONFIG_INVALID naming the file', async () => {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const dir = dirs[0]!
    await setHttpConfig(dir, { tls: { cert: 'missing.crt', key: 'missing.key' } })
    const node = new EhrlogNode({ dir, logger: silentLogger(), checkpointIntervalMs: 0 })
    const err = await node.start().catch((e: unknown) => e)
    expect(isEhrlogError(err, 'CONFIG_INVALID')).toBe(true)
    expect(err).toMatchObject({ details: { field: 'http.tls.cert' } })
    expect((err as Error).message).toContain(join(dir, 'missing.crt'))
  })
})

describe('behind a reverse proxy (config http.trustProxy)', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function plainNode(trustProxy: boolean | string[]): Promise<string> {
    const { dirs } = await initNetwork(await tempDir(), 1)
    await setHttpConfig(dirs[0]!, { trustProxy })
    await createAdminOffline(quiet, dirs[0]!, ADMIN)
    nodes = await startNodes(dirs)
    return nodes[0]!.httpUrl
  }

  const fetchSend =
    (url: string, extra: Record<string, string>): Send =>
    async (path, opts = {}) => {
      const res = await fetch(`${url}${path}`, {
        method: opts.method ?? 'GET',
        headers: {
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extra,
          ...opts.headers,
        },
        ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
      })
      const headers: Record<string, string> = {}
      res.headers.forEach((value, name) => {
        headers[name] = value
      })
      return { status: res.status, headers, body: await res.text() }
    }

  it('takes the scheme and client address from a trusted proxy', async () => {
    const url = await plainNode(['127.0.0.1'])
    const send = fetchSend(url, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' })
    const login = await cookieLogin(send)
    expect(login.status).toBe(200)
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure; /)
    expect(login.headers['strict-transport-security']).toBe(HSTS_VALUE)
    // The client is 203.0.113.7, not the proxy: /metrics is for this host's own scraper.
    const metrics = await send('/metrics')
    expect(metrics.status).toBe(403)
    expect(JSON.parse(metrics.body).error).toMatchObject({ code: 'FORBIDDEN' })
    expect((await fetch(`${url}/metrics`)).status).toBe(200)

    // The browser's page is https://portal.hospital.example, which the proxy names in
    // X-Forwarded-Host: a cookie-authenticated POST from that page is same-origin.
    const cookie = String(login.headers['set-cookie']).split(';')[0]!
    const page = { origin: 'https://portal.hospital.example', cookie }
    const elsewhere = await send('/api/v1/auth/logout', {
      method: 'POST',
      headers: { ...page, 'x-forwarded-host': 'evil.example' },
    })
    expect(elsewhere.status).toBe(403)
    const out = await send('/api/v1/auth/logout', {
      method: 'POST',
      headers: { ...page, 'x-forwarded-host': 'portal.hospital.example' },
    })
    expect(out.status).toBe(204)
  })

  it('ignores those headers without trustProxy', async () => {
    const url = await plainNode(false)
    const send = fetchSend(url, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' })
    const login = await cookieLogin(send)
    expect(login.status).toBe(200)
    expect(String(login.headers['set-cookie'])).not.toMatch(/Secure/)
    expect(login.headers['strict-transport-security']).toBeUndefined()
    expect((await send('/metrics')).status).toBe(200)
  })
})
