import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Incident } from '../../node/alerts/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { login, register } from '../query/sessions.ts'
import { hasChromium, launchChromium, logIn, screenshot } from './browser.ts'
import { newPage, passwordOf } from './one-node.ts'

const A = 'hospital-a'
const AUDITOR = 'audit@hospital-b'
const FORGED = 'nothing to see here'

/*
 * A replica tampered on disk, seen through the portal of the node that holds it.
 *
 * On start a node scrubs its replica and repairs what it finds from its peers within
 * milliseconds (test/integrity/self-repair.test.ts), after which its portal rightly shows a
 * clean, verified history. So the tampered node is restarted with its peers down: the scrub
 * names the entry and reports the incident to its admins as not repaired yet, and the replica
 * stays damaged while the browser looks. Then a peer comes back, the node repairs itself, and
 * the same page verifies again.
 *
 * The tampering is an insider's (scripts/tamper.ts rewriteNotes: the store keys were
 * stolen, so the forged record authenticates and the node serves it, with the proof its
 * stored tree gives); an outsider's byte flip the node cannot even read (last test).
 */
describe.skipIf(!hasChromium)('a replica tampered on disk, through its portal', () => {
  let root: string
  let dirs: string[] = []
  const running = new Map<string, EhrlogNode>()
  /** What node B reported to its admins since its restart. */
  const alerted: Incident[] = []
  let browser: Browser
  let tamperedId = ''
  let tamperedSeq = 0

  async function start(i: number): Promise<EhrlogNode> {
    const [node] = await startNodes([dirs[i]!], {
      ...(i === 1 ? { onIncident: (incident: Incident) => alerted.push(incident) } : {}),
    })
    running.set(['a', 'b', 'c'][i]!, node!)
    return node!
  }

  async function stop(name: string): Promise<void> {
    await running.get(name)?.stop()
    running.delete(name)
  }

  /** Stops B, lets `fn` edit its stored replica of A, and starts B again (alone, if its peers are down). */
  async function tamperB(fn: (t: Tamperer) => Promise<void>): Promise<EhrlogNode> {
    await stop('b')
    const identity = await openNodeDir(dirs[1]!)
    const t = new Tamperer(join(dirs[1]!, identity.config.dataDir), identity.storeKeys, A)
    await t.open()
    try {
      await fn(t)
    } finally {
      await t.close()
    }
    alerted.length = 0
    return start(1)
  }

  async function openHome(page: Page, b: EhrlogNode): Promise<void> {
    await logIn(page, b.httpUrl, AUDITOR, passwordOf(AUDITOR), 'auditor')
    await page.waitForFunction(
      () => document.getElementById('integrity')?.textContent !== 'verifying…',
      undefined,
      { timeout: 20_000 },
    )
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-portal-tamper-'))
    ;({ dirs } = await initNetwork(root))
    for (let i = 0; i < 3; i++) await start(i)
    const [a, b] = [running.get('a')!, running.get('b')!]
    await register(b.auth, 'admin@hospital-b', 'admin')
    await register(b.auth, AUDITOR, 'auditor')
    await b.auth.approve(login(b.auth, 'admin@hospital-b').claims, AUDITOR)
    await a.ingest.submit([0, 1, 2, 3].map((i) => makeEvent(i, { patientId: 'MRN-A' })))
    const nodes = () => [...running.values()]
    await waitFor('replication', () =>
      nodes().every(
        (n) => n.store.size(A) === 4 && n.store.size('hospital-b') === b.store.size('hospital-b'),
      ),
    )
    await a.checkpoints.runRound()
    await waitFor('checkpoint everywhere', () => nodes().every((n) => n.checkpoints.latest()))
    for await (const e of b.store.entries(A))
      if ((e.entry.body as { notes?: string }).notes === 'note number 1') tamperedSeq = e.entry.seq
    tamperedId = `${A}:${tamperedSeq}`
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all([...running.values()].map((n) => n.stop()))
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('shows "data compromised" naming the entry an insider rewrote, while it is not repaired', async () => {
    expect(tamperedSeq).toBeGreaterThan(0)
    // Peers down: nobody to repair from.
    await stop('a')
    await stop('c')
    const b = await tamperB((t) => t.rewriteNotes(tamperedSeq, FORGED))
    await waitFor('the scrub to alert the admins', () => alerted.some((i) => i.kind === 'modified'))
    const incident = alerted.find((i) => i.kind === 'modified')!
    expect(incident.entryIds).toEqual([tamperedId])
    expect(incident.summary).toMatch(/Not repaired yet/)

    const { context, page } = await newPage(browser)
    // What B serves: the forged entry itself (it authenticates), not a refusal.
    const served = page.waitForResponse((r) => r.url().includes('/api/v1/query'))
    await openHome(page, b)
    const answer = (await (await served).json()) as { entries: Array<{ bytes: string }> }
    const texts = answer.entries.map((e) => Buffer.from(e.bytes, 'base64').toString('utf8'))
    expect(texts.some((t) => t.includes(FORGED))).toBe(true)

    await expect(page.locator('#integrity').getAttribute('class')).resolves.toBe('compromised')
    const status = (await page.locator('#integrity').textContent()) ?? ''
    expect(status).toMatch(
      /^data compromised: entries .* failed verification\. Admins have been notified\.$/,
    )
    // The forged entry, and its Merkle sibling: the sibling's inclusion proof carries the
    // forged entry's leaf hash (the node hashes what it holds), so it cannot verify either.
    // The browser cannot tell which of the two was changed; the node's scrub (above) can.
    const siblingId = `${A}:${((tamperedSeq - 1) ^ 1) + 1}`
    const failing = [tamperedId, siblingId].sort()
    expect(status).toContain(`entries ${failing.join(', ')} failed`)
    const reasons = await page.locator('#failures li').allTextContents()
    expect(reasons.map((r) => r.split(': ')[0]).sort()).toEqual(failing)
    // Neither is in the table; the other entries of A are, verified.
    const ids = await page.locator('#logs tbody tr th').allTextContents()
    for (const id of failing) expect(ids).not.toContain(id)
    const others = [1, 2, 3, 4].map((s) => `${A}:${s}`).filter((id) => !failing.includes(id))
    for (const id of others) expect(ids).toContain(id)
    const notes = await page.locator('#logs tbody td.notes').allTextContents()
    expect(notes).not.toContain(FORGED)
    await screenshot(page, 'home-compromised')

    // A peer is back: B repairs from it, and the same page verifies again.
    await start(2)
    await waitFor('B to see C', () => b.net.peers().some((p) => p.name === 'hospital-c'))
    await b.integrity.scrubNow()
    await waitFor('the repaired report', () => alerted.some((i) => i.repaired !== undefined))
    await page.reload()
    await page.locator('#integrity.verified').waitFor({ timeout: 20_000 })
    expect(await page.locator('#logs tbody tr th').allTextContents()).toContain(tamperedId)
    expect(await page.locator('#logs tbody td.notes').allTextContents()).toContain('note number 1')
    await context.close()
  }, 90_000)

  it('a byte flipped on disk: the node cannot read the entry and refuses the query; nothing shows as verified', async () => {
    await stop('c')
    const b = await tamperB((t) => t.flipByte(tamperedSeq))
    await waitFor('the scrub to alert the admins', () =>
      alerted.some((i) => i.kind === 'modified' && i.entryIds.includes(tamperedId)),
    )
    const { context, page } = await newPage(browser)
    await openHome(page, b)
    await expect(page.locator('#integrity').textContent()).resolves.toMatch(
      /^The node refused the query/,
    )
    expect(await page.locator('#integrity.verified').count()).toBe(0)
    expect(await page.locator('#logs tbody tr').count()).toBe(0)
    await context.close()
  }, 60_000)
})
