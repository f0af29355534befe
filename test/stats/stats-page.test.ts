import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { decodeStatsBundle, encodeStatsBundle } from '../../node/core/stats/index.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { hasChromium, launchChromium, SHOTS, screenshot } from '../portal/browser.ts'
import { NAMES, useStatsNetwork, waitFor } from './harness.ts'

const [A, B, C] = NAMES

function events(seed: number, n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent(seed * 100 + i, { resource: 'Observation' }))
}

describe.skipIf(!hasChromium)('the public statistics page in real Chromium', () => {
  const net = useStatsNetwork()

  it('verifies every bundle in the browser, plots the totals per period, lists a forged bundle and plots it nowhere', async () => {
    await net.setUp()
    await net.ingestInOnePeriod({ [A]: events(1, 3), [B]: events(2, 5), [C]: events(3, 4) })
    await net.ingestInOnePeriod({ [A]: events(4, 6), [B]: events(5, 2), [C]: events(6, 1) })
    const seen = () => net.node(A).stats.countersSeen()
    const common = () =>
      [...(seen().get(A)?.keys() ?? [])].filter((p) =>
        NAMES.every((o) => seen().get(o)?.get(p)?.verdict === 'ok'),
      )
    await waitFor('two periods checked everywhere', () => common().length >= 2, 30_000)
    const results = []
    for (const period of common().slice(0, 2))
      results.push(await net.node(A).stats.request({ period }))
    // A bundle whose first hospital carries another's anchor: served, but the page must refuse it.
    const forged = decodeStatsBundle(results[0]!.bundle)
    forged.hospitals[0]!.anchor = forged.hospitals[1]!.anchor
    await writeFile(
      join(net.node(A).stats.dir, 'bundles', '2000-01-01.network.stats'),
      encodeStatsBundle(forged),
    )

    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const response = await page.goto(`${net.node(A).httpUrl}/stats`)
      expect(response?.status()).toBe(200)
      await page.waitForFunction(
        () => document.getElementById('stats-status')?.dataset.verified !== undefined,
        undefined,
        {
          timeout: 60_000,
        },
      )
      expect(await page.locator('#stats-status').textContent()).toMatch(
        /^2 of 3 bundle\(s\) verified in your browser/,
      )
      expect(await page.locator('#stats-failures li').textContent()).toMatch(
        /2000-01-01\.network\.stats: .*anchor/,
      )
      await page.selectOption('#stats-counter', 'events.read.clinical')
      const rows = await page.locator('#stats-table tbody tr').allTextContents()
      expect(rows).toEqual(
        results.map((r) => `${r.period}network3${r.totals[4]}`), // cell 4: events.read.clinical
      )
      expect(results.map((r) => r.totals[4])).toEqual([12, 9])
      const bars = await page
        .locator('#stats-plot rect')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-period')))
      expect(bars).toEqual(results.map((r) => r.period))
      // No hospital is named beside a figure: the table and plot show group totals only (the
      // failure list names the hospital whose anchor failed, with no figure).
      const shown = `${await page.locator('#stats-table').textContent()}${await page.locator('#stats-plot').textContent()}`
      for (const name of NAMES) expect(shown).not.toContain(name)
      await screenshot(page, 'stats-page')
      expect((await readFile(join(SHOTS, 'stats-page.png'))).length).toBeGreaterThan(1000)

      // Every member's page: the combiner sent the bundles on the control topic, and C kept
      // them after checking them itself; its page verifies them again in the browser.
      const onC = async () =>
        (await (await fetch(`${net.node(C).httpUrl}/api/v1/stats/bundles`)).json()) as {
          bundles: string[]
        }
      await waitFor('C to keep both bundles', async () => (await onC()).bundles.length === 2)
      await page.goto(`${net.node(C).httpUrl}/stats`)
      await page.waitForFunction(
        () => document.getElementById('stats-status')?.dataset.verified !== undefined,
        undefined,
        {
          timeout: 60_000,
        },
      )
      expect(await page.locator('#stats-status').textContent()).toMatch(
        /^2 of 2 bundle\(s\) verified/,
      )
    } finally {
      await browser.close()
    }
  }, 180_000)
})
