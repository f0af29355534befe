import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openNodeDir } from '../../node/identity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { initNetwork, startNodes, waitFor } from '../helpers/network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { Tamperer } from '../store/tamper.ts'

/**
 * Issue 4 end to end: a stopped node's replica is damaged on disk; restarted, the node finds
 * it, repairs it from a peer, and its admins get the email, through a real SMTP server.
 */
describe('tampering reaches the admins by email', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
  })

  async function withAdmins(dir: string, port: number): Promise<void> {
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.alerts = {
      admins: ['it-security@hospital-b.example'],
      smtp: {
        host: '127.0.0.1',
        port,
        secure: false,
        requireTLS: false,
        from: 'ehrlog@hospital-b.example',
      },
    }
    await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 })
  }

  async function tamper(dir: string, fn: (t: Tamperer) => Promise<unknown>): Promise<void> {
    const identity = await openNodeDir(dir)
    const t = new Tamperer(join(dir, identity.config.dataDir), identity.storeKeys, 'hospital-a')
    await t.open()
    try {
      await fn(t)
    } finally {
      await t.close()
    }
  }

  for (const [what, damage, subject, line] of [
    [
      'value bytes changed',
      (t: Tamperer) => t.flipByte(6),
      '[Unauthorized Log Modifications]',
      'Compromised log ids: hospital-a:6',
    ],
    [
      'an entry deleted',
      (t: Tamperer) => t.deleteEntry(3),
      '[Unauthorized Log Deletions]',
      'Compromised log ids: hospital-a:3',
    ],
  ] as const) {
    it(`${what}: one email naming the entry, and the replica repaired`, async () => {
      smtp = await startSmtpServer()
      const { dirs } = await initNetwork(await tempDir())
      await withAdmins(dirs[1]!, smtp.port)
      nodes = await startNodes(dirs, { alertRetryMs: 200 })
      await nodes[0]!.ingest.submit(Array.from({ length: 8 }, (_, i) => makeEvent(i)))
      await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 8))
      await nodes[0]!.checkpoints.runRound()
      await waitFor('b to hold the checkpoint', () => nodes[1]!.checkpoints.latest() !== undefined)

      await nodes[1]!.stop()
      await tamper(dirs[1]!, damage)
      const started = Date.now()
      const [b] = await startNodes([dirs[1]!], { alertRetryMs: 200 })
      nodes[1] = b!
      await waitFor('the alert email', () => smtp!.received.length > 0, 20_000)
      console.log(`${what}: email after ${Date.now() - started} ms`)
      const mail = parseMail(smtp.received[0]!.raw)
      expect(mail.subject.startsWith(subject)).toBe(true)
      expect(mail.text).toContain(line)
      expect(mail.text).toMatch(/Reporting node: hospital-b/)
      expect(smtp.received[0]!.rcptTo).toEqual(['it-security@hospital-b.example'])
      await waitFor('the repair', async () => (await b!.store.verify()).ok)
      // the alert is an entry of b's own feed, replicated to the others
      await waitFor('the alert entry at a', async () => {
        for await (const e of nodes[0]!.store.entries('hospital-b'))
          if (e.entry.kind === 'alert') return true
        return false
      })
      await new Promise((r) => setTimeout(r, 1000))
      expect(smtp.received).toHaveLength(1) // one incident, one email
    })
  }
})
