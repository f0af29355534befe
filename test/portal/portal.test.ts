import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACTIONS } from '../../node/core/event.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { login, register } from '../query/sessions.ts'
import {
  hasChromium,
  launchChromium,
  logIn,
  recordRequests,
  registerAccount,
  screenshot,
} from './browser.ts'

const XSS = '<script>alert("xss")</script><img src=x onerror="alert(1)">'
const PATIENT_PW = 'correct horse battery staple'
const AUDITOR_PW = 'auditor pass phrase 1'

if (!hasChromium)
  console.warn('portal tests skipped: /usr/bin/chromium is missing (apt-get install -y chromium)')

describe.skipIf(!hasChromium)('web portal in headless Chromium', () => {
  let root: string
  let nodes: EhrlogNode[] = []
  let browser: Browser
  let base: string
  const sent: string[] = []
  const dialogs: string[] = []

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    recordRequests(page, sent)
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    return { context, page }
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-portal-'))
    const { dirs } = await initNetwork(root)
    nodes = await startNodes(dirs)
    const [a, b] = nodes as [EhrlogNode, EhrlogNode]
    base = a.httpUrl
    await register(a.auth, 'admin@hospital-a', 'admin')
    const events = (n: number, patientId: string, first: number) =>
      Array.from({ length: n }, (_, i) => makeEvent(first + i, { patientId }))
    await a.ingest.submit([
      ...events(2, 'MRN-A', 0),
      makeEvent(2, { patientId: 'MRN-A', notes: XSS }),
      ...events(2, 'MRN-B', 10),
    ])
    await b.ingest.submit([
      ...events(2, 'MRN-A', 20),
      ...events(1, 'MRN-B', 30),
      makeEvent(40, { patientId: 'MRN-C', action: 'print', detail: 'prescription' }),
    ])
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-a') >= 6 && n.store.size('hospital-b') === 4),
    )
    await a.checkpoints.runRound()
    await waitFor('checkpoint everywhere', () => nodes.every((n) => n.checkpoints.latest()))
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all(nodes.map((n) => n.stop()))
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('sends /home without a session to /login, and / too', async () => {
    const { context, page } = await newPage()
    await page.goto(`${base}/home`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await page.goto(`${base}/`)
    expect(new URL(page.url()).pathname).toBe('/login')
    const response = await page.request.get(`${base}/home`, { maxRedirects: 0 })
    expect(response.status()).toBe(302)
    const headers = (await page.request.get(`${base}/login`)).headers()
    expect(headers['content-security-policy']).toContain("script-src 'self'")
    expect(headers['x-frame-options']).toBe('DENY')
    await screenshot(page, 'login')
    await context.close()
  })

  it('a patient registers with an enrollment code, logs in, sees exactly their own verified rows, logs out', async () => {
    const a = nodes[0]!
    const admin = login(a.auth, 'admin@hospital-a').claims
    const { code } = await a.auth.enroll(admin, 'MRN-A')
    const { context, page } = await newPage()
    const registered = await registerAccount(page, base, {
      name: 'Anish',
      username: 'anish',
      password: PATIENT_PW,
      code,
    })
    expect(registered).toContain('Registered anish@hospital-a')
    await screenshot(page, 'register')

    // The wrong user type fails with the prototype's message, like a wrong password.
    await logIn(page, base, 'anish', PATIENT_PW, 'auditor')
    await expect(page.locator('#message').textContent()).resolves.toContain(
      'Username-password combination is wrong for your user type',
    )
    await logIn(page, base, 'anish', 'wrong password', 'patient')
    await expect(page.locator('#message').textContent()).resolves.toContain('combination is wrong')
    expect(new URL(page.url()).pathname).toBe('/login')

    await logIn(page, base, 'anish', PATIENT_PW, 'patient')
    expect(new URL(page.url()).pathname).toBe('/home')
    await expect(page.locator('#me-username').textContent()).resolves.toBe('anish@hospital-a')
    await expect(page.locator('#me-userid').textContent()).resolves.toBe('MRN-A')
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    await expect(page.locator('#integrity').textContent()).resolves.toMatch(
      /verified — cosigned by [23] of 3 nodes at 20\d\d-/,
    )
    // Their own record's entries only (queries are audited too: later rows may be their own views).
    const userIds = await page.locator('#logs tbody tr td:nth-child(3)').allTextContents()
    expect(new Set(userIds)).toEqual(new Set(['MRN-A']))
    const notes = await page.locator('#logs tbody tr td.notes').allTextContents()
    for (const note of ['note number 0', 'note number 1', XSS, 'note number 20', 'note number 21'])
      expect(notes).toContain(note)
    expect(notes.join()).not.toContain('note number 10')
    // The XSS attempt is text on the page, and nothing ran.
    expect(await page.getByText(XSS, { exact: true }).isVisible()).toBe(true)
    expect(dialogs).toEqual([])
    await screenshot(page, 'home-patient')

    // Opening /logout alone (e.g. from another site's link) keeps the session.
    await page.goto(`${base}/logout`)
    await page.goto(`${base}/home`)
    expect(new URL(page.url()).pathname).toBe('/home')
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(`${base}/login`)
    await page.goto(`${base}/home`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await context.close()
  })

  it('a pending auditor sees a notice and no logs; once approved sees all rows and can filter', async () => {
    const a = nodes[0]!
    const { context, page } = await newPage()
    const registered = await registerAccount(page, base, {
      name: 'Audit Co',
      username: 'audit',
      password: AUDITOR_PW,
      auditor: true,
    })
    expect(registered).toContain('must approve')
    await logIn(page, base, 'audit', AUDITOR_PW, 'auditor')
    expect(new URL(page.url()).pathname).toBe('/home')
    await expect(page.locator('#pending').textContent()).resolves.toContain('pending')
    expect(await page.locator('#logs').count()).toBe(0)
    const refused = await page.request.get(`${base}/api/v1/query`)
    expect(refused.status()).toBe(403)

    const admin = login(a.auth, 'admin@hospital-a').claims
    await a.auth.approve(admin, 'audit@hospital-a')
    await page.reload()
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    const all = await page.locator('#logs tbody tr td:nth-child(3)').allTextContents()
    // All patients' entries, and the audit events of the queries made so far ('*': many).
    expect(all.filter((id) => id === 'MRN-B')).toHaveLength(3)
    expect(all.filter((id) => id === 'MRN-A').length).toBeGreaterThanOrEqual(5)
    await screenshot(page, 'home-auditor')

    await page.getByLabel('Patient id').fill('MRN-B')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.waitForURL(/patient=MRN-B/)
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    const filtered = await page.locator('#logs tbody tr td:nth-child(3)').allTextContents()
    expect(filtered.length).toBeGreaterThanOrEqual(3)
    expect(new Set(filtered)).toEqual(new Set(['MRN-B']))

    // The action is a choice among the event schema's actions, not free text.
    await page.getByRole('link', { name: 'Clear' }).click()
    await page.waitForURL(`${base}/home`)
    const options = await page.getByLabel('Action').locator('option').allTextContents()
    expect(options).toEqual(['any', ...ACTIONS])
    await page.getByLabel('Action').selectOption('print')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.waitForURL(/action=print/)
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    const printed = await page.locator('#logs tbody tr td:nth-child(5)').allTextContents()
    expect(printed).toEqual(['PRINT : prescription'])
    await expect(page.getByLabel('Action').inputValue()).resolves.toBe('print')
    await page.getByLabel('Action').selectOption('query')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.waitForURL(/action=query/)
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    const queries = await page.locator('#logs tbody tr td:nth-child(5)').allTextContents()
    expect(queries.length).toBeGreaterThan(0)
    // Views of the log, this auditor's refused ones (while pending) among them, each saying
    // what kind of account asked (docs/query.md).
    for (const q of queries) expect(q).toMatch(/^QUERY : (refused \(.+\), )?.+$/)
    expect(queries.some((q) => /^QUERY : auditor of hospital-\w+/.test(q))).toBe(true)
    expect(
      queries.some((q) => /^QUERY : refused \(pending\), self-registered auditor/.test(q)),
    ).toBe(true)
    await context.close()
  })

  // A node that lies (or anything between it and the browser): the entry is rewritten in
  // flight, so the node's own replica and scrub know nothing of it; only the browser's check
  // catches it. A replica tampered on disk is tampered-replica.test.ts.
  it('shows "data compromised" with the entry id when the answer is tampered in transit', async () => {
    const { context, page } = await newPage()
    await logIn(page, base, 'audit', AUDITOR_PW, 'auditor')
    let tamperedId = ''
    await page.route('**/api/v1/query*', async (route) => {
      const response = await route.fetch()
      const answer = (await response.json()) as {
        entries: Array<{ bytes: string }>
      }
      const first = answer.entries.find((e) =>
        Buffer.from(e.bytes, 'base64').toString('utf8').includes('note number 10'),
      )!
      const text = Buffer.from(first.bytes, 'base64').toString('utf8')
      const parsed = JSON.parse(text) as { origin: string; seq: number }
      tamperedId = `${parsed.origin}:${parsed.seq}`
      first.bytes = Buffer.from(text.replace('note number 10', 'note number 99')).toString('base64')
      await route.fulfill({ response, json: answer })
    })
    await page.goto(`${base}/home`)
    await page.locator('#integrity.compromised').waitFor({ timeout: 20_000 })
    const status = await page.locator('#integrity').textContent()
    expect(status).toContain('data compromised')
    expect(status).toContain(tamperedId)
    expect(status).toContain('Admins have been notified')
    const rows = await page.locator('#logs tbody tr th').allTextContents()
    expect(rows).not.toContain(tamperedId)
    await context.close()
  })

  it('never sent a password in any request', () => {
    expect(sent.length).toBeGreaterThan(10)
    for (const request of sent) {
      for (const password of [PATIENT_PW, AUDITOR_PW, 'wrong password'])
        expect(request).not.toContain(password)
      expect(request).not.toContain(encodeURIComponent(PATIENT_PW))
    }
  })
})
