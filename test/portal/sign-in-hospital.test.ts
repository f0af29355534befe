import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shortNetworkId } from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { LOGIN_FAILED } from '../../node/portal/browser/login.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { login, register } from '../query/sessions.ts'
import { hasChromium, launchChromium, logIn, registerAccount, screenshot } from './browser.ts'
import { newPage, passwordOf } from './one-node.ts'

const KIM = 'kim@hospital-b'

/** Submits the login form at `base` and returns the message once the node has answered. */
async function failedLogIn(page: Page, base: string, username: string, password: string) {
  await page.goto(`${base}/login`)
  await page.getByLabel('Username', { exact: true }).fill(username)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForFunction(
    () => !/^(Signing in…)?$/.test(document.getElementById('message')?.textContent ?? ''),
    undefined,
    { timeout: 20_000 },
  )
  return (await page.locator('#message').textContent()) ?? ''
}

/*
 * Two hospitals' portals in real Chromium: which hospital's portal a page is, the real reason
 * when an account of another hospital signs in (with a link to its portal, from the node's
 * config `portals`, which `network init` writes), and a patient who registered without an
 * enrollment code linking the account later from the home page.
 */
describe.skipIf(!hasChromium)(
  'portal: the right hospital, and enrolling after registration',
  () => {
    let root: string
    let nodes: EhrlogNode[] = []
    let networkId = ''
    let browser: Browser

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'ehrlog-portal-home-'))
      const { dirs, membership } = await initNetwork(root, 2)
      networkId = membership.networkId
      nodes = await startNodes(dirs)
      await register(nodes[1]!.auth, 'admin@hospital-b', 'admin')
      await register(nodes[1]!.auth, KIM, 'patient') // no enrollment code
      browser = await launchChromium()
    }, 60_000)

    afterAll(async () => {
      await browser?.close()
      await Promise.all(nodes.map((n) => n.stop()))
      if (root) await rm(root, { recursive: true, force: true })
    })

    it("the login page names its hospital; another hospital's account is sent to its portal", async () => {
      const [a, b] = [nodes[0]!.httpUrl, nodes[1]!.httpUrl]
      const { context, page } = await newPage(browser)
      await page.goto(`${a}/login`)
      expect(await page.locator('#portal-node').textContent()).toBe('hospital-a')
      expect(await page.locator('#portal-network').textContent()).toBe(shortNetworkId(networkId))
      expect(await page.locator('#portal-network').getAttribute('title')).toBe(networkId)
      expect(await page.locator('h1').textContent()).toBe('Log in to hospital-a')

      // The right password, the wrong hospital: not "wrong password" but where to go.
      const wrongHospital = `${KIM} is an account of hospital-b, and this is the portal of hospital-a: sign in at hospital-b's portal, ${b}/login.`
      expect(await failedLogIn(page, a, KIM, passwordOf(KIM))).toBe(wrongHospital)
      await screenshot(page, 'login-wrong-hospital')
      // An account that does not exist reads the same: the reason follows from "@hospital-b".
      const ghost = await failedLogIn(page, a, 'nobody@hospital-b', 'any password')
      expect(ghost).toBe(wrongHospital.replace(KIM, 'nobody@hospital-b'))
      // This hospital's accounts still fail as before, whichever part was wrong.
      expect(await failedLogIn(page, a, 'nobody@hospital-a', 'any password')).toBe(LOGIN_FAILED)

      // The link leads to hospital-b's login page, where the same password signs in.
      // Signing in as a patient at hospital-a gives the same reason, with the link.
      await page.goto(`${a}/login`)
      await page.getByLabel('Username', { exact: true }).fill(KIM)
      await page.getByLabel('Password', { exact: true }).fill(passwordOf(KIM))
      await page.getByLabel('Patient').check()
      await page.getByRole('button', { name: 'Log in' }).click()
      await page.locator('#home-portal').waitFor({ timeout: 20_000 })
      expect(await page.locator('#message').textContent()).toBe(wrongHospital)
      await page.locator('#home-portal').click()
      await page.waitForURL(`${b}/login`)
      expect(await page.locator('#portal-node').textContent()).toBe('hospital-b')
      await logIn(page, b, KIM, passwordOf(KIM), 'patient')
      expect(page.url()).toBe(`${b}/home`)
      await context.close()
    }, 90_000)

    it('an unbound patient links the account with a code on the home page; bound ones never see the form', async () => {
      const b = nodes[1]!
      const { context, page } = await newPage(browser)
      await logIn(page, b.httpUrl, KIM, passwordOf(KIM), 'patient')
      const form = page.locator('#enroll-form')
      await form.waitFor({ timeout: 20_000 })
      expect(await page.locator('#me-userid').textContent()).toBe(KIM)
      await screenshot(page, 'home-enroll')

      await page.getByLabel('Enrollment code').fill('not-a-code')
      await page.getByRole('button', { name: 'Link my account' }).click()
      await page.getByText(/^Not linked: the enrollment code is unknown, used or expired/).waitFor()

      const admin = login(b.auth, 'admin@hospital-b').claims
      const { code } = await b.auth.enroll(admin, 'MRN-K')
      await page.getByLabel('Enrollment code').fill(code)
      await page.getByRole('button', { name: 'Link my account' }).click()
      await page.waitForFunction(
        () => document.getElementById('me-userid')?.textContent === 'MRN-K',
      )
      await page.locator('#integrity').waitFor()
      expect(await page.locator('#enroll-form').count()).toBe(0)
      expect(b.auth.directory.get(KIM)?.patientId).toBe('MRN-K')
      await context.close()
    }, 90_000)

    it('the enrollment-code field comes back after a registration, without a reload', async () => {
      const a = nodes[0]!.httpUrl
      const { context, page } = await newPage(browser)
      await page.goto(`${a}/register`)
      expect(await page.locator('h1').textContent()).toBe('Register at hospital-a')
      expect(await page.locator('#portal-node').textContent()).toBe('hospital-a')
      const codeRow = page.locator('#code-row')
      // registerAccount navigates; this one registers an auditor in the already open page.
      await page.getByLabel('Name', { exact: true }).fill('Audit Co')
      await page.getByLabel('Username', { exact: true }).fill('audit@hospital-a')
      await page.getByLabel('Password', { exact: true }).fill('auditor password')
      await page.getByLabel(/Audit Company/).check()
      expect(await codeRow.isHidden()).toBe(true)
      await page.getByRole('button', { name: 'Register' }).click()
      await page.getByText(/^Registered audit@hospital-a/).waitFor({ timeout: 20_000 })
      expect(await page.getByLabel(/Audit Company/).isChecked()).toBe(false)
      expect(await codeRow.isVisible()).toBe(true)
      await screenshot(page, 'register-after-auditor')
      expect(
        await registerAccount(page, a, {
          name: 'Pat',
          username: 'pat@hospital-a',
          password: 'patient password',
        }),
      ).toMatch(/^Registered pat@hospital-a/)
      await context.close()
    }, 90_000)
  },
)
