import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { noteSkipReason } from '../helpers/skip-reason.ts'

/** Debian's Chromium (.ci/apt-packages installs it); the portal tests skip without it. */
export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)
if (!hasChromium) noteSkipReason(`Chromium missing (${CHROMIUM}), apt-get install chromium`)

/** Screenshots land here (test output); docs/images/portal-*.png are committed copies. */
export const SHOTS = join(process.cwd(), '.tmp', 'portal-screenshots')

/** Saves SHOTS/name.png: the whole page, or only what the viewport shows. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  await mkdir(SHOTS, { recursive: true })
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage })
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Every request the page sends: URL and body, to prove the password never leaves it. */
export function recordRequests(page: Page, into: string[]): void {
  page.on('request', (request) => {
    into.push(`${request.method()} ${request.url()}\n${request.postData() ?? ''}`)
  })
}

/** Fills and submits the login form; waits for /home or the failure message. */
export async function logIn(
  page: Page,
  base: string,
  username: string,
  password: string,
  userType: 'patient' | 'auditor',
): Promise<void> {
  await page.goto(`${base}/login`)
  await page.getByLabel('Username', { exact: true }).fill(username)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByLabel(userType === 'patient' ? 'Patient' : 'Audit company').check()
  await page.getByRole('button', { name: 'Log in' }).click()
  await Promise.race([
    page.waitForURL(`${base}/home`, { timeout: 20_000 }),
    page.getByText(/combination is wrong/).waitFor({ timeout: 20_000 }),
  ])
}

export async function registerAccount(
  page: Page,
  base: string,
  fields: { name: string; username: string; password: string; auditor?: boolean; code?: string },
): Promise<string> {
  await page.goto(`${base}/register`)
  await page.getByLabel('Name', { exact: true }).fill(fields.name)
  await page.getByLabel('Username', { exact: true }).fill(fields.username)
  await page.getByLabel('Password', { exact: true }).fill(fields.password)
  if (fields.auditor) await page.getByLabel(/Audit Company/).check()
  else if (fields.code) await page.getByLabel(/Enrollment code/).fill(fields.code)
  await page.getByRole('button', { name: 'Register' }).click()
  const message = page.locator('#message')
  await page.waitForFunction(
    () => /^Regist(ered|ration failed)/.test(document.getElementById('message')?.textContent ?? ''),
    undefined,
    { timeout: 20_000 },
  )
  return (await message.textContent()) ?? ''
}
