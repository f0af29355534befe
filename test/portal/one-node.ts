import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { login, register } from '../query/sessions.ts'

/** The password test/query/sessions.ts's `register` gives every account. */
export const passwordOf = (username: string): string => `pw of ${username}`

export const PATIENT = 'anish@hospital-a'
export const AUDITOR = 'audit@hospital-a'

export interface OneNodePortal {
  node: EhrlogNode
  base: string
  /** network.json's id as the node computed it. */
  networkId: string
  /** The node's folder (its keys sign test-made membership changes and checkpoints). */
  dir: string
  stop(): Promise<void>
}

/**
 * A one-member network (a real node on loopback, LevelDB, HTTP) with a cosigned checkpoint,
 * events of patients MRN-A and MRN-B, the patient account PATIENT (bound to MRN-A) and the
 * approved auditor AUDITOR, both with `passwordOf`. For tests of one page's behaviour; the
 * multi-node portal test is portal.test.ts.
 */
export async function startOneNodePortal(): Promise<OneNodePortal> {
  const root = await mkdtemp(join(tmpdir(), 'ehrlog-portal-1-'))
  let nodes: EhrlogNode[] = []
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(root, { recursive: true, force: true })
  }
  try {
    const { dirs, membership } = await initNetwork(root, 1)
    nodes = await startNodes(dirs)
    const node = nodes[0]!
    await register(node.auth, 'admin@hospital-a', 'admin')
    const admin = login(node.auth, 'admin@hospital-a').claims
    const { code } = await node.auth.enroll(admin, 'MRN-A')
    await register(node.auth, PATIENT, 'patient', code)
    await register(node.auth, AUDITOR, 'auditor')
    await node.auth.approve(admin, AUDITOR)
    await node.ingest.submit([
      ...[0, 1, 2].map((i) => makeEvent(i, { patientId: 'MRN-A', patientName: 'Anish Kumar' })),
      ...[3, 4].map((i) => makeEvent(i, { patientId: 'MRN-B', patientName: 'Bea Ortiz' })),
    ])
    await node.checkpoints.runRound()
    return { node, base: node.httpUrl, networkId: membership.networkId, dir: dirs[0]!, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** A fresh browser profile (its own cookies and localStorage) with one page. */
export async function newPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
  mobile = false,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport,
    ...(mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  })
  return { context, page: await context.newPage() }
}
