import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasChromium, launchChromium, logIn, screenshot } from './browser.ts'
import {
  AUDITOR,
  newPage,
  type OneNodePortal,
  PATIENT,
  passwordOf,
  startOneNodePortal,
} from './one-node.ts'

/** A small phone (iPhone SE class), as a mobile browser lays pages out: meta viewport honoured. */
const PHONE = { width: 375, height: 740 }
/** Smallest text size we call readable on a phone, in CSS px (the table uses 0.9rem = 14.4). */
const MIN_FONT_PX = 14

interface Layout {
  innerWidth: number
  scrollWidth: number
  clientWidth: number
  smallestFontPx: number
  smallestText: string
  /** Controls and text blocks whose right edge is past the viewport (outside scroll boxes). */
  overflowing: string[]
}

/** Measures the page as laid out: horizontal overflow and the smallest visible text. */
function measure(page: Page): Promise<Layout> {
  return page.evaluate(() => {
    const root = document.documentElement
    let smallestFontPx = Number.POSITIVE_INFINITY
    let smallestText = ''
    const overflowing: string[] = []
    for (const el of Array.from(document.body.querySelectorAll<HTMLElement>('*'))) {
      const box = el.getBoundingClientRect()
      if (box.width === 0 || box.height === 0) continue
      const ownText = Array.from(el.childNodes)
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent?.trim() ?? '')
        .join('')
      if (ownText !== '') {
        const px = Number.parseFloat(getComputedStyle(el).fontSize)
        if (px < smallestFontPx) {
          smallestFontPx = px
          smallestText = ownText.slice(0, 40)
        }
      }
      // Inside the table's own scroll box, overflow is intended (the page does not scroll).
      if (el.closest('.scroll')) continue
      if (box.right > root.clientWidth + 0.5) overflowing.push(`${el.tagName}#${el.id}`)
    }
    return {
      innerWidth: window.innerWidth,
      scrollWidth: root.scrollWidth,
      clientWidth: root.clientWidth,
      smallestFontPx,
      smallestText,
      overflowing,
    }
  })
}

function expectFitsPhone(layout: Layout): void {
  expect(layout.innerWidth).toBe(PHONE.width) // laid out at phone width, not zoomed out
  expect(layout.overflowing).toEqual([])
  expect(layout.scrollWidth).toBeLessThanOrEqual(layout.clientWidth)
  expect(layout.smallestFontPx, `"${layout.smallestText}"`).toBeGreaterThanOrEqual(MIN_FONT_PX)
}

describe.skipIf(!hasChromium)('the portal on a phone-width screen', () => {
  let portal: OneNodePortal
  let browser: Browser

  beforeAll(async () => {
    portal = await startOneNodePortal()
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await portal?.stop()
  })

  it('/login and /register fit 375 px with readable text', async () => {
    const { context, page } = await newPage(browser, PHONE, true)
    await page.goto(`${portal.base}/login`)
    expectFitsPhone(await measure(page))
    await page.goto(`${portal.base}/register`)
    expectFitsPhone(await measure(page))
    await page.getByLabel(/Audit Company/).check() // the enrollment-code row hides
    expectFitsPhone(await measure(page))
    await page.getByLabel(/Audit Company/).uncheck()
    await screenshot(page, 'register-phone', false)
    await context.close()
  })

  it("a patient's /home fits 375 px: each log row is a card of labelled cells", async () => {
    const { context, page } = await newPage(browser, PHONE, true)
    await logIn(page, portal.base, PATIENT, passwordOf(PATIENT), 'patient')
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    expect(await page.locator('#accesses tbody tr').count()).toBe(3)
    const layout = await measure(page)
    expectFitsPhone(layout)
    // Seven columns do not fit 375 px: the rows are cards, so not even the tables' boxes scroll.
    for (const box of await page.locator('.scroll').all()) {
      const [scroll, client] = await box.evaluate((el) => [el.scrollWidth, el.clientWidth])
      expect(scroll).toBeLessThanOrEqual(client!)
    }
    const labels = await page
      .locator('#accesses tbody tr')
      .first()
      .locator('th, td')
      .evaluateAll((cells) =>
        cells.map((c) => getComputedStyle(c, '::before').content.replace(/"/g, '')),
      )
    expect(labels).toEqual(['When', 'Who', 'What', 'Data', 'Where', 'Notes', 'Entry'])
    // One phone screen, from the report down (the whole page is several screens long).
    await page.evaluate(() => document.getElementById('accesses-h')?.scrollIntoView())
    await screenshot(page, 'home-patient-phone', false)
    await context.close()
  })

  it("an auditor's /home with its filters fits 375 px", async () => {
    const { context, page } = await newPage(browser, PHONE, true)
    await logIn(page, portal.base, AUDITOR, passwordOf(AUDITOR), 'auditor')
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    expectFitsPhone(await measure(page))
    await context.close()
  })
})
