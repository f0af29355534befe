import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import type { Incident } from '../../node/alerts/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { blindIndex, feedTag, PREFIX, prefixRange } from '../../node/store/format/key-layout.ts'
import { accessOf } from '../../node/store/store-access.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { hasChromium, launchChromium, logIn, screenshot } from '../portal/browser.ts'
import { newPage, passwordOf } from '../portal/one-node.ts'
import { login, register } from '../query/sessions.ts'

/*
 * The scenario, on real nodes: an insider with hospital-b's store keys deletes one of
 * patient MRN-A's index postings from hospital-b's LevelDB. hospital-b then answers that
 * patient's trail with some entries missing; before the per-patient index, the CLI asked alone
 * (`--cross-check 0`) printed "verified". Now the completeness proof, bound to the cosigned
 * checkpoint, shows the count the answer falls short of: the CLI, `verify-bundle` on the
 * exported bundle and the portal in Chromium each refuse it and say what is missing. Then the
 * node's scrub finds the posting missing, names it and restores it from the entries.
 *
 * The first deletion is made in the running node (an insider with the process's access), with
 * the scrub held off so that the refusals can be looked at; the last test deletes another
 * posting in the stopped node's LevelDB and starts it, as the reproduction did.
 */
const A = 'hospital-a'
const PATIENT = 'anna@hospital-b'
const ADMIN = 'admin@hospital-b'
/** MRN-A's events at hospital-a: 4 batches of 5, so one deleted posting hides 5 entries. */
const BATCHES = 4
const PER_BATCH = 5
const HOUR = 3_600_000

describe('an index posting deleted by an insider', () => {
  let root: string
  let dirs: string[] = []
  let nodes: EhrlogNode[] = []
  let b: EhrlogNode
  let network: string
  let env: Record<string, string>
  let browser: Browser | undefined
  /** What hospital-b reported to its admins. */
  const incidents: Incident[] = []

  const startB = async () => {
    b = (
      await startNodes([dirs[1]!], {
        onIncident: (i: Incident) => incidents.push(i),
        scrubIntervalMs: HOUR,
      })
    )[0]!
    nodes[1] = b
  }

  /** The LevelDB keys of MRN-A's postings in hospital-b's replica of hospital-a, and the prefix. */
  async function postingPrefix(): Promise<Buffer> {
    const { storeKeys } = await openNodeDir(dirs[1]!)
    return Buffer.concat([
      Buffer.of(PREFIX.patient),
      blindIndex(storeKeys.indexKey, 'patient', 'MRN-A'),
      feedTag(storeKeys.indexKey, A),
    ])
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-posting-'))
    ;({ dirs } = await initNetwork(root))
    network = join(root, 'network.json')
    nodes = await startNodes(dirs, { scrubIntervalMs: HOUR })
    await nodes[1]!.stop()
    await startB()
    const a = nodes[0]!
    for (let batch = 0; batch < BATCHES; batch++) {
      await a.ingest.submit(
        Array.from({ length: PER_BATCH }, (_, i) =>
          makeEvent(batch * PER_BATCH + i, { patientId: 'MRN-A' }),
        ),
      )
    }
    await waitFor('replication', () => nodes.every((n) => n.store.size(A) === a.store.size(A)))
    await a.checkpoints.runRound()
    await waitFor('checkpoint everywhere', () => nodes.every((n) => n.checkpoints.latest()))
    await b.integrity.scrubNow() // the start's scrub is over: the next one is an hour away

    // The insider, in the running node.
    const { db } = accessOf(b.store)
    const postings = await db.keys(prefixRange(await postingPrefix())).all()
    expect(postings).toHaveLength(BATCHES)
    await db.del(postings[1]!)

    await register(b.auth, ADMIN, 'admin')
    const admin = login(b.auth, ADMIN)
    const { code } = await b.auth.enroll(admin.claims, 'MRN-A')
    await register(b.auth, PATIENT, 'patient', code)
    env = { EHRLOG_CONFIG_DIR: join(root, 'config-admin') }
    await saveSession({ env } as unknown as CliContext, {
      v: 1,
      node: b.httpUrl,
      username: ADMIN,
      token: admin.token,
      role: 'admin',
      expiresMs: Date.now() + HOUR,
    })
    if (hasChromium) browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all(nodes.map((n) => n.stop()))
    if (root) await rm(root, { recursive: true, force: true })
  })

  const query = () =>
    runCli(['query', '--network', network, '--patient', 'MRN-A', '--cross-check', '0'], env)
  const missing = new RegExp(
    `completeness: ${PER_BATCH} of patient MRN-A's ${BATCHES * PER_BATCH} entries at hospital-a up to \\d+ are missing`,
  )

  it('the CLI asked alone refuses the answer and says how many entries are missing', async () => {
    const r = await query()
    expect(r.code, r.out + r.err).toBe(3)
    expect(r.out).toMatch(missing)
    expect(r.out).not.toMatch(/^complete: /m)
  })

  it('verify-bundle refuses the bundle exported from that node, offline', async () => {
    const bundle = join(root, 'trail.bundle.json')
    const exported = await runCli(
      ['export', '--network', network, '--patient', 'MRN-A', '--cross-check', '0', '--out', bundle],
      env,
    )
    expect(exported.code, exported.out + exported.err).toBe(3)
    expect(JSON.parse(await readFile(bundle, 'utf8')).answers.length).toBeGreaterThan(0)
    const r = await runCli(['verify-bundle', bundle], {})
    expect(r.code, r.out + r.err).toBe(3)
    expect(r.out).toMatch(missing)
  })

  it.skipIf(!hasChromium)('the patient portal of that node refuses it in the browser', async () => {
    const { context, page } = await newPage(browser!)
    try {
      await logIn(page, b.httpUrl, PATIENT, passwordOf(PATIENT), 'patient')
      const note = page.locator('#completeness')
      await page.locator('#completeness:not([data-state="not-checked"])').waitFor({
        timeout: 60_000,
      })
      await expect(note.getAttribute('data-state')).resolves.toBe('refused')
      await expect(note.textContent()).resolves.toMatch(
        new RegExp(`${PER_BATCH} of patient MRN-A's ${BATCHES * PER_BATCH} entries at hospital-a`),
      )
      await screenshot(page, 'completeness-refused-deleted-posting')
    } finally {
      await context.close()
    }
  })

  it("the node's scrub names the missing postings and restores them: the trail is complete again", async () => {
    incidents.length = 0
    await b.integrity.scrubNow()
    const incident = incidents.find((i) => i.kind === 'index-diverged')
    expect(incident?.origin).toBe(A)
    expect(incident?.summary).toMatch(
      new RegExp(`${PER_BATCH} of hospital-a's entries had no patient posting .*: restored`),
    )
    const r = await query()
    expect(r.code, r.out + r.err).toBe(0)
    expect(r.out).toMatch(/^complete: every access to patient MRN-A recorded up to/m)
  })

  it('deleted in the stopped node: its index, built from the postings at start, disagrees with the cosigned root, is rebuilt from the entries, and the posting restored', async () => {
    await b.stop()
    const { storeKeys, config } = await openNodeDir(dirs[1]!)
    const tamper = new Tamperer(join(dirs[1]!, config.dataDir), storeKeys, A)
    await tamper.open()
    try {
      const postings = await tamper.db.keys(prefixRange(await postingPrefix())).all()
      await tamper.db.del(postings[0]!)
    } finally {
      await tamper.close()
    }
    incidents.length = 0
    await startB()
    await waitFor('the index incident', () => incidents.some((i) => i.kind === 'index-diverged'))
    const incident = incidents.find((i) => i.kind === 'index-diverged')!
    expect(incident.origin).toBe(A)
    expect(incident.summary).toMatch(/did not match hospital-a's entries: rebuilt from them/)
    expect(incident.summary).toMatch(/had no patient posting .*: restored from the entries/)
    const r = await query()
    expect(r.code, r.out + r.err).toBe(0)
    expect(r.out).toMatch(/^complete: every access to patient MRN-A recorded up to/m)
  })
})
