import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Download, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { decodeEntry } from '../../node/core/entry.ts'
import { networkIdOf } from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import type { LogStore } from '../../node/store/index.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { type AnswerState, answerFromParams } from '../query/answer-server.ts'
import { useQueryWorld } from '../query/fixtures.ts'
import { login, register } from '../query/sessions.ts'
import { hasChromium, launchChromium, logIn, screenshot } from './browser.ts'
import { newPage, PATIENT, passwordOf } from './one-node.ts'

/*
 * The patient's report page checks completeness in real Chromium. The page, the login and the
 * browser script come from a real node; its /api/v1/network and /api/v1/query are answered
 * (page.route) from a real store with real BLS-cosigned checkpoints whose cuts carry
 * PatientIndex roots, and proofs made by PatientIndex.prove, exactly as nodes will answer once
 * the node side of issue 15 lands (then report.test.ts sees the same on a real node).
 */

const ANISH = { patientId: 'MRN-A', patientName: 'Anish Kumar' }

describe.skipIf(!hasChromium)("the report page proves the patient's trail complete", () => {
  const world = useQueryWorld()
  const tempDir = useTempDirs()
  let root: string
  let nodes: EhrlogNode[] = []
  let base: string
  let browser: Browser

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-portal-complete-'))
    const { dirs } = await initNetwork(root, 1)
    nodes = await startNodes(dirs)
    const node = nodes[0]!
    await register(node.auth, 'admin@hospital-a', 'admin')
    const { code } = await node.auth.enroll(login(node.auth, 'admin@hospital-a').claims, 'MRN-A')
    await register(node.auth, PATIENT, 'patient', code)
    base = node.httpUrl
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all(nodes.map((n) => n.stop()))
    if (root) await rm(root, { recursive: true, force: true })
  })

  /** MRN-A at hospital-a:1–3 and hospital-b:1–2, others around; hospital-a:6 after the cut. */
  async function trail(): Promise<{ store: LogStore; checkpoint: CosignedCheckpoint }> {
    const store = await world.open()
    await world.append(store, 0, 0, 3, ANISH)
    await world.append(store, 0, 10, 2)
    await world.append(store, 1, 20, 2, ANISH)
    await world.append(store, 1, 30, 1)
    const checkpoint = await world.cosign(store, [0, 1], Date.parse('2026-03-01T09:00:00Z'))
    await world.append(store, 0, 40, 1, ANISH)
    return { store, checkpoint }
  }

  /** Serves the fixture network and answers to `page`, then logs the patient in. */
  async function openReport(page: Page, store: LogStore, state: AnswerState): Promise<void> {
    await page.route(`${base}/api/v1/network`, (route) =>
      route.fulfill({
        json: { networkId: networkIdOf(world.networkJson), networkJson: world.networkJson },
      }),
    )
    await page.route(`${base}/api/v1/query?**`, async (route) => {
      const params = new URL(route.request().url()).searchParams
      await route.fulfill({ json: await answerFromParams(world, store, state, params) })
    })
    await logIn(page, base, PATIENT, passwordOf(PATIENT), 'patient')
    await page.locator('#completeness:not([data-state="not-checked"])').waitFor({ timeout: 60_000 })
  }

  const note = (page: Page) => page.locator('#completeness')

  it('accepted: the statement, and the newer entry marked signed, not yet proven complete', async () => {
    const { store, checkpoint } = await trail()
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    })
    const page = await context.newPage()
    try {
      await openReport(page, store, { checkpoint, scopePatient: 'MRN-A' })
      await expect(note(page).getAttribute('data-state')).resolves.toBe('complete')
      // biome-ignore lint/performance/useDomNodeTextContent: the two lines are apart only as rendered (<br>)
      const text = await note(page).innerText()
      expect(text).toMatch(
        /^complete: every access to patient MRN-A recorded up to checkpoint 2026-03-01T09:00:00.000Z \([0-9a-f]{12}\), cosigned by 2 of 3\n1 newer entry signed by its origin, not yet proven complete \(hospital-a: 1\)$/,
      )
      await expect(page.locator('#integrity').getAttribute('class')).resolves.toBe('verified')
      const newer = page.locator('td[data-col=entry]', { hasText: 'hospital-a:6' })
      await expect(newer.textContent()).resolves.toContain(
        'signed by hospital-a, not yet proven complete',
      )
      const older = page.locator('td[data-col=entry]', { hasText: 'hospital-b:2' })
      await expect(older.textContent()).resolves.toContain('cosigned')
      await screenshot(page, 'completeness-proven')
      // The page's offline bundle carries the proof: verify-bundle checks it with no network.
      const [file] = await Promise.all([
        page.waitForEvent('download') as Promise<Download>,
        page.locator('#download-bundle').click(),
      ])
      const path = join(await tempDir(), file.suggestedFilename())
      await file.saveAs(path)
      const offline = await runCli(['verify-bundle', path], {})
      expect(offline.code, offline.out).toBe(0)
      expect(offline.out).toMatch(
        /^complete: every access to patient MRN-A recorded up to checkpoint 2026-03-01T09:00:00.000Z \([0-9a-f]{12}\), cosigned by 2 of 3$/m,
      )
    } finally {
      await context.close()
    }
  }, 120_000)

  it('refused: an entry dropped from the answer, naming the origin', async () => {
    const { store, checkpoint } = await trail()
    const { context, page } = await newPage(browser)
    try {
      await openReport(page, store, {
        checkpoint,
        scopePatient: 'MRN-A',
        tamper: (answer) => {
          answer.entries = answer.entries.filter((e) => {
            const { origin, seq } = decodeEntry(
              new Uint8Array(Buffer.from(e.bytes, 'base64')),
            ).entry
            return !(origin === 'hospital-b' && seq === 2)
          })
        },
      })
      await expect(note(page).getAttribute('data-state')).resolves.toBe('refused')
      await expect(note(page).textContent()).resolves.toBe(
        "Not proven complete: 1 of patient MRN-A's 2 entries at hospital-b up to 3 are missing. Entries may be missing from this report; the entries shown are verified one by one.",
      )
      await screenshot(page, 'completeness-refused-dropped')
    } finally {
      await context.close()
    }
  }, 120_000)

  it('refused: a proof for another patient relabelled MRN-A; unproven: no proof sent', async () => {
    const { store, checkpoint } = await trail()
    const other = await world.completenessAt(store, checkpoint, 'patient-3')
    let { context, page } = await newPage(browser)
    try {
      await openReport(page, store, {
        checkpoint,
        scopePatient: 'MRN-A',
        tamper: (answer) => {
          answer.completeness = { patientId: 'MRN-A', proof: other.proof }
        },
      })
      await expect(note(page).getAttribute('data-state')).resolves.toBe('refused')
      await expect(note(page).textContent()).resolves.toContain(
        "the answer's index key is not patient MRN-A's: its VRF proof does not verify",
      )
    } finally {
      await context.close()
    }
    ;({ context, page } = await newPage(browser))
    try {
      await openReport(page, store, {
        checkpoint,
        scopePatient: 'MRN-A',
        tamper: (answer) => {
          delete answer.completeness
        },
      })
      await expect(note(page).getAttribute('data-state')).resolves.toBe('unproven')
      await expect(note(page).textContent()).resolves.toContain(
        'that none was left out is not proven (the node sent no proof)',
      )
      await expect(page.locator('body').textContent()).resolves.not.toMatch(/\bcomplete:/)
    } finally {
      await context.close()
    }
  }, 120_000)

  it('refused: an older checkpoint presented as the latest after this browser saw a newer one', async () => {
    const { store, checkpoint } = await trail()
    const newer = await world.cosign(store, [0, 1, 2], Date.parse('2026-03-01T10:00:00Z'))
    const state: AnswerState = { checkpoint: newer, scopePatient: 'MRN-A' }
    const { context, page } = await newPage(browser)
    try {
      await openReport(page, store, state)
      await expect(note(page).getAttribute('data-state')).resolves.toBe('complete')
      const kept = await page.evaluate(() =>
        Object.keys(localStorage).filter((k) => k.startsWith('ehrlog.checkpoint.')),
      )
      expect(kept).toHaveLength(1)
      state.checkpoint = checkpoint // 09:00, now sent as the latest
      await page.reload()
      await page.locator('#completeness[data-state="refused"]').waitFor({ timeout: 60_000 })
      await expect(note(page).textContent()).resolves.toMatch(
        /^Not proven complete: the answer's checkpoint of 2026-03-01T09:00:00.000Z \([0-9a-f]{12}\) is older than the checkpoint of 2026-03-01T10:00:00.000Z \([0-9a-f]{12}\) already verified: the node presents an old state as its latest\./,
      )
      await screenshot(page, 'completeness-refused-old-checkpoint')
    } finally {
      await context.close()
    }
  }, 120_000)
})
