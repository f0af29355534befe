import { cp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { AlertBody } from '../../node/alerts/index.ts'
import { bytesEqual, fromHex } from '../../node/core/hex.ts'
import { rootFromInclusionProof } from '../../node/core/merkle/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const C = 'hospital-c'

/**
 * Issue 14, alert storms: a node restored from a backup and started with the fence overridden
 * signs a second history from the seq after the backup. The other members hold the first one;
 * a checkpoint round shows the restored node their root at a size both hold, and its first
 * divergence email names the exact seq where the histories part, proven with the other
 * history's entries from the proposer (real nodes, real SMTP server).
 */
describe('a restore-shaped fork: the first email names the seq where the histories part', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
  })

  it('a node restored at 8 entries that signs seq 9 anew: "The histories part at seq 9"', async () => {
    smtp = await startSmtpServer()
    const { dirs } = await initNetwork(await tempDir())
    const cDir = dirs[2]!
    const configPath = join(cDir, 'config.json')
    const config = JSON.parse(await readFile(configPath, 'utf8'))
    config.alerts = {
      admins: ['it-security@hospital-c.example'],
      smtp: {
        host: '127.0.0.1',
        port: smtp.port,
        secure: false,
        requireTLS: false,
        from: 'ehrlog@hospital-c.example',
      },
    }
    await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 })
    const db = join(cDir, (await openNodeDir(cDir)).config.dataDir)

    nodes = await startNodes(dirs, { alertRetryMs: 200 })
    const everyone = (size: number) => () => nodes.every((n) => n.store.size(C) === size)
    await nodes[2]!.ingest.submit([0, 1, 2, 3].map((i) => makeEvent(i)))
    await nodes[2]!.ingest.submit([4, 5, 6, 7].map((i) => makeEvent(i)))
    await waitFor('8 entries of hospital-c everywhere', everyone(8))
    // The backup: hospital-c's store at 8 entries, taken with the node stopped.
    await nodes[2]!.stop()
    const backup = join(await tempDir(), 'backup-db')
    await cp(db, backup, { recursive: true })
    nodes[2] = (await startNodes([cDir], { alertRetryMs: 200 }))[0]!
    await nodes[2]!.ingest.submit([8, 9, 10, 11].map((i) => makeEvent(i)))
    await waitFor('12 entries of hospital-c everywhere', everyone(12))
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []

    // The restore, and a start with the fence overridden while the others are away: seq 9
    // (the override's own record) and what follows are a second history.
    await rm(db, { recursive: true, force: true })
    await cp(backup, db, { recursive: true })
    const [c] = await startNodes([cDir], {
      alertRetryMs: 200,
      overrideFence: 'restored from last night’s backup; the other members are down',
    })
    nodes.push(c!)
    await waitFor('the override record', () => c!.store.size(C) === 9)
    expect((await c!.store.getEntry(C, 9))?.entry.body).toMatchObject({
      detail: 'own-feed fence override',
    })
    await c!.ingest.submit([20, 21, 22, 23].map((i) => makeEvent(i)))
    expect(c!.store.size(C)).toBe(13)

    // The others come back; a checkpoint round shows hospital-c their root at size 12.
    nodes.push(...(await startNodes(dirs.slice(0, 2), { alertRetryMs: 200 })))
    const a = nodes[1]!
    await waitFor('a full gossip mesh', () =>
      nodes.every((n) => n.net.peers().filter((p) => p.gossip).length === 2),
    )
    await a.checkpoints.runRound().catch(() => {})
    await waitFor('the divergence email', () => divergenceMails(smtp!).length > 0, 30_000)
    const mail = divergenceMails(smtp)[0]!
    expect(mail.subject).toBe(
      '[Replica Divergence] replicas of hospital-c disagree, seen by hospital-c (seq 9)',
    )
    const text = mail.text.replace(/\s+/g, ' ')
    expect(text).toContain('The histories part at seq 9 of hospital-c.')
    expect(text).not.toContain('at or before')

    // evidence.json holds the proof: the other history's entry 9 under its root at 12, and the
    // root both give over entries 1 to 8.
    const attached = mail.attachments.find((f) => f.filename === 'evidence.json')!
    const { evidence } = JSON.parse(attached.content.toString('utf8'))
    const { parting } = evidence
    expect(parting).toMatchObject({ seq: 9, treeSize: 12, provenBy: 'hospital-a', leafIndex: 8 })
    expect(parting.root).toBe(evidence.theirRoot)
    const theirs = fromHex(parting.theirEntryHash, 32)!
    const proof = parting.theirInclusionProof.map((h: string) => fromHex(h, 32)!)
    expect(
      bytesEqual(rootFromInclusionProof(theirs, 8, 12, proof), fromHex(parting.root, 32)!),
    ).toBe(true)
    expect(parting.ourEntryHash).not.toBe(parting.theirEntryHash)
    const ours9 = (await c!.store.getEntry(C, 9))!
    expect(parting.ourEntryHash).toBe(Buffer.from(ours9.hash).toString('hex'))
    expect(bytesEqual(fromHex(parting.agreedRootBefore, 32)!, await a.store.rootAt(C, 8))).toBe(
      true,
    )
    expect(bytesEqual(await c!.store.rootAt(C, 8), await a.store.rootAt(C, 8))).toBe(true)

    // The alert entry in hospital-c's feed says so too.
    await waitFor('the alert entry', async () => (await alertEntries(c!)).length > 0)
    const [alert] = (await alertEntries(c!)).filter((b) => b.kind === 'diverged')
    expect(alert).toMatchObject({ seqFrom: 9, seqTo: 9 })
    expect(alert!.summary).toContain('The histories part at seq 9 of hospital-c.')

    // More rounds, more divergences: folded into the first, no second email.
    await a.checkpoints.runRound().catch(() => {})
    await new Promise((r) => setTimeout(r, 1000))
    expect(divergenceMails(smtp)).toHaveLength(1)
  }, 120_000)
})

function divergenceMails(smtp: TestSmtpServer) {
  return smtp.received
    .map((m) => parseMail(m.raw))
    .filter((m) => m.subject.startsWith('[Replica Divergence]'))
}

async function alertEntries(node: EhrlogNode): Promise<AlertBody[]> {
  const out: AlertBody[] = []
  for await (const e of node.store.entries(C))
    if (e.entry.kind === 'alert') out.push(e.entry.body as AlertBody)
  return out
}
