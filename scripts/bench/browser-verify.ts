// Client verification of a query answer in real Chromium (issue 15's browser target): the
// portal's bundler settings (node/portal/bundle.ts: the `buffer` shim, node:crypto aliased to
// the noble-based shim) around browser-verify-entry.ts, which runs the same verifyQueryAnswer
// and checkAnswerCompleteness as the portal's trail page, timed inside the page.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { CheckedPage, NetworkKeys } from '../../node/core/trust/index.ts'
import { bundleForBrowser } from '../../node/portal/bundle.ts'
import { sourceUrl } from '../../node/threads/source-root.ts'

const CHROMIUM = '/usr/bin/chromium'

export interface BrowserTimes {
  /** verifyQueryAnswer + checkAnswerCompleteness per run, ms. */
  times: number[]
  /** checkAnswerCompleteness alone per run, ms. */
  completeness: number[]
}

function bundle(): Promise<string> {
  return bundleForBrowser(fileURLToPath(sourceUrl('scripts/bench/browser-verify-entry.ts')), 'iife')
}

/**
 * Times `runs` verifications of `answer` in headless Chromium (its completeness checked over
 * `later` too, the trail's further pages, verified once in the page before the runs);
 * undefined without Chromium.
 */
export async function verifyInChromium(
  answer: unknown,
  later: readonly CheckedPage[],
  keys: NetworkKeys,
  patientId: string,
  runs: number,
): Promise<BrowserTimes | undefined> {
  if (!existsSync(CHROMIUM)) return undefined
  const script = await bundle()
  // Loaded at run time, not bundled into dist/bench/ (playwright-core cannot be bundled): a
  // specifier in a variable is left alone by esbuild.
  const playwright = 'playwright-core'
  const { chromium } = (await import(playwright)) as typeof import('playwright-core')
  // Not this process's allocator settings (bin/relaunch.js: jemalloc preloaded under `npm
  // run bench`): Chromium started with them aborted ("GPU process isn't usable").
  const { LD_PRELOAD, MALLOC_CONF, MALLOC_MMAP_THRESHOLD_, EHRLOG_LAUNCHER_FD, ...env } =
    process.env
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    env,
  })
  try {
    const page = await browser.newPage()
    await page.setContent('<!doctype html><title>verify</title>')
    await page.addScriptTag({ content: script })
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
    const input = {
      answer: JSON.parse(JSON.stringify(answer)) as unknown,
      later: JSON.parse(JSON.stringify(later.map((p) => p.answer))) as unknown[],
      keys: {
        networkId: keys.networkId,
        blsKeys: keys.blsKeys.map(hex),
        ed25519Keys: [...keys.ed25519Keys].map(([o, k]) => [o, hex(k)] as [string, string]),
        vrfPublicKey: hex(keys.vrfPublicKey),
      },
      patientId,
      runs,
    }
    const out = await page.evaluate(
      (i) =>
        (
          globalThis as unknown as { benchVerify: (x: typeof i) => BrowserTimes | string }
        ).benchVerify(i),
      input,
    )
    if (typeof out === 'string') throw new Error(`verification in Chromium failed: ${out}`)
    return out
  } finally {
    await browser.close()
  }
}
