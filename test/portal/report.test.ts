import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Download, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { hasChromium, launchChromium, logIn, screenshot } from './browser.ts'
import { wordsWrappedMidWord } from './layout.ts'
import { AUDITOR, type OneNodePortal, PATIENT, passwordOf, startOneNodePortal } from './one-node.ts'

const ACTIONS = ['read', 'update', 'print', 'create'] as const
/** Accesses to MRN-A beyond the 3 of startOneNodePortal: more than one screen (50) of rows. */
const EXTRA = 60

describe.skipIf(!hasChromium)("the patient's access report", () => {
  let portal: OneNodePortal
  let browser: Browser
  const tempDir = useTempDirs()

  beforeAll(async () => {
    portal = await startOneNodePortal()
    await portal.node.ingest.submit(
      Array.from({ length: EXTRA }, (_, i) =>
        makeEvent(100 + i, {
          patientId: 'MRN-A',
          patientName: 'Anish Kumar',
          action: ACTIONS[i % 4]!,
          ...(i % 3 === 1 ? { actorName: 'Dr. Lea Meier' } : {}),
          ...(i % 4 === 2 ? { detail: 'prescription' } : {}),
          resource: i % 2 === 0 ? 'user_prescriptions' : 'lab_results',
        }),
      ),
    )
    await portal.node.checkpoints.runRound()
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await portal?.stop()
  })

  /** A browser in Zurich (CET in December), English with day-month order. */
  async function zurichPage(width = 1280): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      viewport: { width, height: 900 },
      timezoneId: 'Europe/Zurich',
      locale: 'en-GB',
      acceptDownloads: true,
    })
    return { context, page: await context.newPage() }
  }

  async function download(page: Page, link: string): Promise<string> {
    const [file] = await Promise.all([
      page.waitForEvent('download') as Promise<Download>,
      page.locator(link).click(),
    ])
    const path = join(await tempDir(), file.suggestedFilename())
    await file.saveAs(path)
    return path
  }

  it('shows accesses newest first in the browser’s zone, apart from views of the trail; CSV and a bundle verify-bundle accepts', async () => {
    const { context, page } = await zurichPage()
    await logIn(page, portal.base, PATIENT, passwordOf(PATIENT), 'patient')
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    // Again: the first load's own query record is durable now, so it shows among the views.
    await page.reload()
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    await expect(page.locator('#integrity').textContent()).resolves.toMatch(
      /^data integrity status: verified — cosigned by 1 of 1 nodes at .+ CET: each of the \d+ entries below is proven in this browser/,
    )
    // The node proves the trail complete at its checkpoint (issue 15); this browser checked it.
    const completeness = page.locator('#completeness')
    await expect(completeness.getAttribute('data-state')).resolves.toBe('complete')
    await expect(completeness.textContent()).resolves.toMatch(
      /^complete: every access to patient MRN-A recorded up to checkpoint \S+Z \([0-9a-f]{12}\), cosigned by 1 of 1/,
    )
    await expect(page.locator('#report-zone').textContent()).resolves.toContain('Europe/Zurich')

    // Accesses: newest first; the newest is event 159 at 19:02:39 UTC, 20:02:39 in Zurich.
    const accesses = page.locator('#accesses tbody tr')
    const times = await accesses
      .locator('time')
      .evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime') ?? ''))
    expect(times).toHaveLength(EXTRA + 3)
    expect([...times].sort().reverse()).toEqual(times)
    const first = accesses.first()
    await expect(first.locator('[data-col=when]').textContent()).resolves.toBe(
      '4 Dec 2023, 20:02:39 CET',
    )
    // Event 159: i = 59, a 'create' by dr-0 (no name given), on lab_results.
    await expect(first.locator('[data-col=what]').textContent()).resolves.toBe('Created')
    await expect(first.locator('[data-col=data]').textContent()).resolves.toBe('lab_results')
    await expect(first.locator('[data-col=where]').textContent()).resolves.toBe('hospital-a')
    // A name where the EHR gave one, with the id under it.
    const named = accesses.filter({ hasText: 'Dr. Lea Meier' }).first()
    await expect(named.locator('[data-col=who]').textContent()).resolves.toMatch(
      /^Dr\. Lea Meierdr-\d$/,
    )
    await expect(
      accesses.filter({ hasText: 'Printed: prescription' }).count(),
    ).resolves.toBeGreaterThan(0)
    // One screen of 50; the rest behind "Show older".
    expect(await accesses.filter({ visible: true }).count()).toBe(50)
    await screenshot(page, 'home-report', false)
    await page.getByRole('button', { name: `Show ${EXTRA + 3 - 50} older` }).click()
    expect(await accesses.filter({ visible: true }).count()).toBe(EXTRA + 3)
    // No view of the audit trail among the accesses; this very query among the views.
    await expect(page.locator('#accesses').textContent()).resolves.not.toContain('audit log')
    const views = page.locator('#views tbody tr')
    expect(await views.count()).toBeGreaterThanOrEqual(1)
    await expect(views.first().locator('[data-col=what]').textContent()).resolves.toBe(
      'Searched the audit trailpatient account of hospital-a',
    )
    await expect(views.first().locator('[data-col=who]').textContent()).resolves.toBe(PATIENT)
    // Links to both sections, with their counts, above the first.
    await expect(page.locator('#jump-accesses').textContent()).resolves.toBe(
      `Accesses to your record (${EXTRA + 3})`,
    )
    await expect(page.locator('#jump-views').textContent()).resolves.toBe(
      `Who looked at your audit trail (${await views.count()})`,
    )

    const csv = (await readFile(await download(page, '#download-csv'), 'utf8')).split('\r\n')
    expect(csv[0]).toBe(
      'section,when_utc,when_local,who_id,who_name,account,what,action,data,where,patient,outcome,notes,entry,integrity',
    )
    expect(csv.filter((l) => l.startsWith('access,'))).toHaveLength(EXTRA + 3)
    expect(csv.filter((l) => l.startsWith('access,'))[0]).toMatch(
      /^access,2023-12-04T19:02:39\.000Z,"4 Dec 2023, 20:02:39 CET",dr-0,,,Created,create,lab_results,hospital-a,MRN-A,success,note number 159,hospital-a:\d+,cosigned$/,
    )

    const bundle = await download(page, '#download-bundle')
    const checked = await runCli(['verify-bundle', bundle])
    expect(checked.err).toContain('trusting the membership inside the bundle')
    expect(checked.out).toContain('complete: the export reached the end of the answer')
    expect(checked.out).toContain('unverified (the bundle is not signed)')
    expect(checked.code).toBe(0)
    await context.close()
  }, 60_000)

  it('follows the node’s pages by cursor, offers "Load more", and the bundle holds every page', async () => {
    const { context, page } = await zurichPage()
    await logIn(page, portal.base, PATIENT, passwordOf(PATIENT), 'patient')
    await page.goto(`${portal.base}/home?limit=5`)
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    // 10 pages of 5 in one load; more than 50 entries, so the node has more.
    await expect(page.locator('#loaded').textContent()).resolves.toMatch(
      /^50 entries loaded so far \(10 requests\); the node has more/,
    )
    const more = page.getByRole('button', { name: 'Load more from the node' })
    const partial = await runCli(['verify-bundle', await download(page, '#download-bundle')])
    expect(partial.out).toContain('INCOMPLETE: the export stopped at --max 50')
    expect(partial.code).not.toBe(0)
    await more.click()
    await page
      .locator('#loaded')
      .filter({ hasText: /^All \d+ entries loaded/ })
      .waitFor()
    expect(await more.isVisible()).toBe(false)
    await expect(page.locator('#integrity').getAttribute('class')).resolves.toBe('verified')
    const bundle = await download(page, '#download-bundle')
    const pages = (JSON.parse(await readFile(bundle, 'utf8')) as { answers: unknown[] }).answers
    expect(pages.length).toBeGreaterThan(10)
    const checked = await runCli(['verify-bundle', bundle])
    expect(checked.out).toContain('complete: the export reached the end of the answer')
    expect(checked.code).toBe(0)
    await context.close()
  }, 60_000)

  it('no word wraps mid-word at 1280, 1024 and 768 px, for the patient and the auditor', async () => {
    for (const [user, role] of [
      [PATIENT, 'patient'],
      [AUDITOR, 'auditor'],
    ] as const) {
      const { context, page } = await zurichPage()
      await logIn(page, portal.base, user, passwordOf(user), role)
      await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
      for (const width of [1280, 1024, 768]) {
        await page.setViewportSize({ width, height: 900 })
        expect(await wordsWrappedMidWord(page), `${role} at ${width} px`).toEqual([])
        if ((role === 'auditor' && width === 1024) || (role === 'patient' && width === 768)) {
          // One screen from the report down (the whole page is many screens long).
          await page.evaluate(() => document.getElementById('accesses-h')?.scrollIntoView())
          await screenshot(page, `home-${role}-${width}`, false)
          await page.evaluate(() => document.getElementById('views-h')?.scrollIntoView())
          await screenshot(page, `home-${role}-${width}-views`, false)
        }
      }
      await context.close()
    }
  }, 60_000)

  it('prints every row, without buttons or forms', async () => {
    const { context, page } = await zurichPage()
    await logIn(page, portal.base, PATIENT, passwordOf(PATIENT), 'patient')
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    expect(await page.locator('#accesses tbody tr').filter({ visible: true }).count()).toBe(50)
    await page.emulateMedia({ media: 'print' })
    expect(await page.locator('#accesses tbody tr').filter({ visible: true }).count()).toBe(
      EXTRA + 3,
    )
    expect(await page.locator('button').filter({ visible: true }).count()).toBe(0)
    expect(await page.locator('header').isVisible()).toBe(false)
    await screenshot(page, 'home-print', false)
    await context.close()
  }, 60_000)
})
