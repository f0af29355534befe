import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cosignedFromJson, cosignedToJson } from '../../node/core/checkpoint.ts'
import { MembershipHistory, membershipAnswerOf } from '../../node/core/trust/index.ts'
import {
  cosignAtVersion,
  keysOfFolders,
  type SigningMember,
  signChange,
} from '../helpers/membership-versions.ts'
import { hasChromium, launchChromium, logIn } from './browser.ts'
import { AUDITOR, newPage, type OneNodePortal, passwordOf, startOneNodePortal } from './one-node.ts'

/*
 * The portal follows the membership chain in Chromium. The running node cannot change its
 * membership yet (the node runtime that applies changes is being built beside this), so the
 * page is served, through Playwright's routing, what a node of version 1 would serve: the
 * signed change on GET /api/v1/membership and the node's real answers with their checkpoint
 * cosigned again under version 1 with the node folder's BLS key. Everything the page checks
 * runs in the browser.
 */

let portal: OneNodePortal
let browser: Browser
let keys: Map<string, SigningMember>
let genesis: MembershipHistory
let h1: MembershipHistory
let fork: MembershipHistory

/** The page sees `history`'s changes, and every answer's checkpoint cosigned under `version` of `signedUnder`. */
async function serveVersion(
  page: Page,
  history: MembershipHistory,
  signedUnder: MembershipHistory,
  version: number,
): Promise<void> {
  await page.route('**/api/v1/membership*', async (route) => {
    const after = Number(new URL(route.request().url()).searchParams.get('after') ?? 0)
    await route.fulfill({ json: membershipAnswerOf(history, after) })
  })
  await page.route('**/api/v1/query?*', async (route) => {
    const response = await route.fetch()
    const answer = (await response.json()) as { checkpoint: unknown }
    if (answer.checkpoint)
      answer.checkpoint = cosignedToJson(
        cosignAtVersion(cosignedFromJson(answer.checkpoint), signedUnder, version, keys),
      )
    await route.fulfill({ response, json: answer })
  })
}

describe.skipIf(!hasChromium)('the portal follows the membership chain in the browser', () => {
  beforeAll(async () => {
    portal = await startOneNodePortal()
    browser = await launchChromium()
    keys = await keysOfFolders([portal.dir])
    const genesisJson = JSON.parse(await readFile(join(portal.dir, 'network.json'), 'utf8'))
    genesis = MembershipHistory.fromChain(genesisJson, [])
    const a = keys.get('hospital-a')!
    const change = (port: number) =>
      signChange(
        genesis,
        { type: 'addresses', name: 'hospital-a', addresses: [`/ip4/127.0.0.1/tcp/${port}`] },
        [a],
      )
    h1 = genesis.extend(change(7999))
    fork = genesis.extend(change(7998))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await portal?.stop()
  })

  it('verifies answers whose checkpoint is of version 1 through the signed change, keeps the chain, and refuses a fork', async () => {
    const { context, page } = await newPage(browser)
    await serveVersion(page, h1, h1, 1)
    await logIn(page, portal.base, AUDITOR, passwordOf(AUDITOR), 'auditor')
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    expect(await page.locator('.report tbody tr').count()).toBeGreaterThan(0)
    const kept = JSON.parse(
      (await page.evaluate(() => localStorage.getItem('ehrlog.membership'))) ?? '{}',
    ) as { networkId?: string; changes?: unknown[] }
    expect(kept.networkId).toBe(portal.networkId)
    expect(kept.changes).toEqual([...h1.applied])

    // The same node now shows another version 1 (also signed): the chain forked.
    await page.unrouteAll()
    await serveVersion(page, fork, fork, 1)
    await page.reload()
    await page.locator('#integrity.warning').waitFor({ timeout: 20_000 })
    await expect(page.locator('#integrity').textContent()).resolves.toMatch(
      /membership chain is refused \(EQUIVOCATION\): membership change 1 from this node/,
    )
    expect(await page.locator('.report tbody tr').count()).toBe(0)
    await context.close()
  })

  it('a checkpoint of a version the node shows no change for is not verified', async () => {
    const { context, page } = await newPage(browser)
    await serveVersion(page, genesis, h1, 1)
    await logIn(page, portal.base, AUDITOR, passwordOf(AUDITOR), 'auditor')
    await page.locator('#integrity.compromised').waitFor({ timeout: 20_000 })
    expect(await page.locator('#integrity.verified').count()).toBe(0)
    expect(await page.evaluate(() => localStorage.getItem('ehrlog.membership'))).toBeNull()
    await context.close()
  })
})
