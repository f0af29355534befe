import { generateKeyPairSync } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { addSignature, proposeChange, type SignedProposal } from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import type { RetiredKeyIncident } from '../../node/integrity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

describe('a rotated-out Ed25519 key (real nodes on loopback)', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
    smtp = undefined
  })

  /** Emails of `dir`'s node go to admins@<its name>.example through the test's SMTP server. */
  async function withAdmins(dir: string, port: number): Promise<void> {
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.alerts = {
      admins: [`admins@${config.name}.example`],
      smtp: {
        host: '127.0.0.1',
        port,
        secure: false,
        requireTLS: false,
        from: 'ehrlog@hospital.example',
      },
    }
    await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 })
  }

  it('signs what is before the cut; past the cut its heads are refused and raise an incident naming the origin and the key', async () => {
    const { dirs } = await initNetwork(await tempDir())
    smtp = await startSmtpServer()
    for (const dir of dirs.slice(0, 2)) await withAdmins(dir, smtp.port)
    const retired: RetiredKeyIncident[] = []
    const incidents: string[] = []
    nodes = await startNodes(dirs, {
      onRetiredKey: (i) => retired.push(i),
      onIntegrityIncident: (i) => incidents.push(`${i.reportingNode}:${i.kind}`),
      alertRetryMs: 200,
    })
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await c.ingest.submit([makeEvent(1), makeEvent(2)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 2))
    const before = await a.checkpoints.runRound()

    // hospital-c's key is declared lost: a quorum (a and b) rotates it to a new one.
    const oldKey = toHex((await openNodeDir(dirs[2]!)).signingPublicKey)
    const newKey = toHex(ed25519RawPublicKey(generateKeyPairSync('ed25519').privateKey))
    let rotate: SignedProposal = {
      proposal: proposeChange(a.membership.history.versions[0]!, 'hospital-a', {
        type: 'rotate-ed25519',
        name: 'hospital-c',
        ed25519PublicKey: newKey,
        oldKey: 'lost',
      }),
      signatures: [],
    }
    for (const dir of dirs.slice(0, 2)) {
      const id = await openNodeDir(dir)
      rotate = addSignature(rotate, id.config.name, id.signingKey)
    }
    for (const n of nodes) n.membership.offer(rotate)
    const cut = await a.checkpoints.runRound()
    expect(cut.checkpoint.membership.version).toBe(1)
    expect(cut.checkpoint.feeds.find((f) => f.origin === 'hospital-c')!.treeSize).toBe(2)
    await waitFor('a and b to adopt the cut', () =>
      [a, b].every((n) => n.checkpoints.latest()?.checkpoint.membership.version === 1),
    )

    // c's node holds its own feed: its folder has no new key, and the old one may sign nothing
    // past the cut. A thief of the old key runs no such hold: lifting it plays the thief.
    expect(c.store.appendHoldOf('hospital-c')).toMatch(/keys-next\.enc does not hold/)
    c.store.releaseAppends('hospital-c', 'own-rotation')
    // The old key signs a third entry: a and b refuse it and raise the incident.
    await c.ingest.submit([makeEvent(3)])
    await waitFor('the incident on a and b', () => retired.length >= 2)
    for (const incident of retired) {
      expect(incident).toMatchObject({
        kind: 'rotated-out-key',
        origin: 'hospital-c',
        evidence: { retiredKey: oldKey, retiredAfter: 2, version: 1, treeSize: 3 },
      })
    }
    expect(a.store.size('hospital-c')).toBe(2)
    expect(b.store.size('hospital-c')).toBe(2)

    // An integrity alert like the others: emailed once by each node that refused the head,
    // recorded as an `alert` entry of kind rotated-out-key in its own feed.
    const mails = () =>
      smtp!.received
        .map((m) => ({ to: m.rcptTo[0], mail: parseMail(m.raw) }))
        .filter(({ mail }) => mail.subject.startsWith('[Rotated-Out Key Used]'))
    await waitFor('the rotated-out-key emails of a and b', () => mails().length >= 2)
    for (const name of ['hospital-a', 'hospital-b']) {
      const mine = mails().filter((m) => m.to === `admins@${name}.example`)
      expect(mine).toHaveLength(1)
      expect(mine[0]!.mail.subject).toBe(
        `[Rotated-Out Key Used] a retired key of hospital-c signed its log, refused by ${name} (seq 3)`,
      )
      expect(mine[0]!.mail.text.replace(/\s+/g, ' ')).toContain(
        "Treat hospital-c's old signing key as stolen",
      )
      const evidence = JSON.parse(mine[0]!.mail.attachments[0]!.content.toString('utf8'))
      expect(JSON.stringify(evidence)).toContain(oldKey)
    }
    const alertsOf = async (n: EhrlogNode, origin: string) => {
      const out: unknown[] = []
      for await (const e of n.store.entries(origin))
        if (e.entry.kind === 'alert') out.push(e.entry.body)
      return out
    }
    await waitFor('the alert entries', async () =>
      (await Promise.all([alertsOf(a, 'hospital-a'), alertsOf(b, 'hospital-b')])).every(
        (list) => list.length === 1,
      ),
    )
    expect(await alertsOf(a, 'hospital-a')).toEqual([
      expect.objectContaining({ kind: 'rotated-out-key', origin: 'hospital-c', seqTo: 3 }),
    ])
    // The same head sent again (sync retries it) is the same incident: no second report.
    await c.ingest.submit([makeEvent(4)])
    await waitFor('the head at 4 refused too', () => retired.length >= 4)
    await new Promise((r) => setTimeout(r, 1500))
    expect(incidents.filter((i) => i.endsWith(':rotated-out-key'))).toHaveLength(retired.length)
    expect(new Set(retired.map((i) => `${i.reportingNode}:${i.key}`)).size).toBe(retired.length)
    // Head 4 is another incident of the same kind and origin: folded into the episode's email.
    expect(mails()).toHaveLength(2)
    // What the old key signed before the cut stays, and the checkpoint before still verifies.
    expect((await a.store.verify()).ok).toBe(true)
    expect(a.membership.history.keysFor(before.checkpoint.membership).version).toBe(0)
  })
})
