import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { bundleForBrowser } from '../../node/portal/bundle.ts'
import { sourceUrl } from '../../node/threads/source-root.ts'

const CHROMIUM = '/usr/bin/chromium'

/**
 * Times `runs` checks of a statistics bundle in headless Chromium (the public page's check,
 * verifyStatsBundle); undefined without Chromium. The first run includes the JIT's warm-up.
 */
export async function verifyStatsInChromium(
  bytes: Uint8Array,
  runs: number,
  /** Another copy of stats-browser-entry.ts (an older tree's, for a before/after). */
  entry = fileURLToPath(sourceUrl('scripts/bench/stats-browser-entry.ts')),
): Promise<number[] | undefined> {
  if (!existsSync(CHROMIUM)) return undefined
  const script = await bundleForBrowser(entry, 'iife')
  const playwright = 'playwright-core'
  const { chromium } = (await import(playwright)) as typeof import('playwright-core')
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  })
  try {
    const page = await browser.newPage()
    await page.setContent('<!doctype html><title>verify</title>')
    await page.addScriptTag({ content: script })
    const out = await page.evaluate(
      (i) =>
        (
          globalThis as unknown as { benchStatsVerify: (x: typeof i) => number[] | string }
        ).benchStatsVerify(i),
      { hex: Buffer.from(bytes).toString('hex'), runs },
    )
    if (typeof out === 'string') throw new Error(`verification in Chromium failed: ${out}`)
    return out
  } finally {
    await browser.close()
  }
}
