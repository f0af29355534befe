import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import { toHex } from '../../node/core/hex.ts'
import { sha256 } from '../../node/core/merkle/hash.ts'
import { hasChromium, launchChromium, logIn, screenshot } from './browser.ts'
import { AUDITOR, newPage, type OneNodePortal, passwordOf, startOneNodePortal } from './one-node.ts'

interface Served {
  networkId: string
  networkJson: { members: Array<Record<string, unknown> & { addresses: string[] }> }
}

/** Makes the page receive `rewrite(served)` from GET /api/v1/network (a node that lies). */
async function serveNetwork(page: Page, rewrite: (served: Served) => Served): Promise<void> {
  await page.route('**/api/v1/network', async (route) => {
    const response = await route.fetch()
    await route.fulfill({ response, json: rewrite((await response.json()) as Served) })
  })
}

/** Another network: one member's address changed, the id recomputed as Membership does. */
function otherNetwork(served: Served): Served {
  const networkJson = structuredClone(served.networkJson)
  networkJson.members[0]!.addresses = ['/ip4/203.0.113.9/tcp/7400']
  const networkId = toHex(sha256(new TextEncoder().encode(canonicalJson(networkJson))))
  return { networkId, networkJson }
}

describe.skipIf(!hasChromium)('the portal pins the network in the browser', () => {
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

  it('pins the network id on the first verified visit, then refuses another network', async () => {
    const { base, networkId } = portal
    const short = `${networkId.slice(0, 16)}…`
    const { context, page } = await newPage(browser)
    await page.goto(`${base}/login`)
    expect(await page.evaluate(() => localStorage.getItem('ehrlog.network'))).toBeNull()
    await logIn(page, base, AUDITOR, passwordOf(AUDITOR), 'auditor') // lands on /home
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    await expect(page.locator('#network-id').textContent()).resolves.toBe(short)
    await expect(page.locator('#network-note').textContent()).resolves.toMatch(
      /first time, pinned in this browser now/,
    )
    const pin = JSON.parse(
      (await page.evaluate(() => localStorage.getItem('ehrlog.network'))) ?? '{}',
    ) as { networkId?: string }
    expect(pin.networkId).toBe(networkId)

    await page.reload()
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    await expect(page.locator('#network-note').textContent()).resolves.toMatch(
      /^pinned in this browser on 20\d\d-/,
    )

    // The node now serves another network.json (consistent with the id it names).
    await serveNetwork(page, otherNetwork)
    await page.reload()
    await page.locator('#integrity.warning').waitFor({ timeout: 20_000 })
    const warning = (await page.locator('#integrity').textContent()) ?? ''
    expect(warning).toContain('Warning: the network changed')
    expect(warning).toContain(short)
    expect(warning).toContain('no logs are shown')
    expect(await page.locator('.report tbody tr').count()).toBe(0)
    expect(await page.locator('#integrity.verified').count()).toBe(0)
    await expect(page.locator('#network-id').textContent()).resolves.not.toBe(short)
    // The pin is not replaced by what the node serves now.
    expect(await page.evaluate(() => localStorage.getItem('ehrlog.network'))).toContain(networkId)
    await screenshot(page, 'home-network-changed')

    // A network.json that does not hash to the id the node names is refused too.
    await page.unrouteAll()
    await serveNetwork(page, (served) => ({ ...otherNetwork(served), networkId }))
    await page.reload()
    await page.locator('#integrity.warning').waitFor({ timeout: 20_000 })
    await expect(page.locator('#integrity').textContent()).resolves.toMatch(
      /network\.json hashes to [0-9a-f]{16}…, not to the network id/,
    )
    expect(await page.locator('.report tbody tr').count()).toBe(0)

    // The pinned network served again: verified as before.
    await page.unrouteAll()
    await page.reload()
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    expect(await page.locator('.report tbody tr').count()).toBeGreaterThan(0)
    await context.close()
  })

  it('with no pin yet, a network the checkpoint was not cosigned for is neither verified nor pinned', async () => {
    const { context, page } = await newPage(browser)
    await serveNetwork(page, otherNetwork)
    await logIn(page, portal.base, AUDITOR, passwordOf(AUDITOR), 'auditor')
    // The checkpoint was cosigned for the real network: under the served one it does not
    // verify, so nothing shows as verified and nothing is pinned.
    await page.locator('#integrity.compromised').waitFor({ timeout: 20_000 })
    await expect(page.locator('#network-note').textContent()).resolves.toBe(
      'not pinned: the data did not verify',
    )
    expect(await page.evaluate(() => localStorage.getItem('ehrlog.network'))).toBeNull()
    await context.close()
  })
})
