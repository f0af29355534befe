import type { KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { fromHex } from '../../node/core/hex.ts'
import { MemoryTree } from '../../node/core/merkle/index.ts'
import { signTreeHead } from '../../node/core/tree-head.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { decodeEvidence, verifyEquivocation } from '../../node/integrity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { filesUnder, useTempDirs } from '../helpers/temp-dir.ts'

type Damage = (t: Tamperer, signingKey: KeyObject) => Promise<unknown>

// [what, the node whose replica is damaged (0: hospital-a, the origin itself), damage, subject, line]
const CASES: Array<[string, number, Damage, string, string]> = [
  [
    'value bytes changed',
    1,
    (t) => t.flipByte(6),
    '[Unauthorized Log Modifications]',
    'Compromised log ids: hospital-a:6',
  ],
  [
    'an entry deleted',
    1,
    (t) => t.deleteEntry(3),
    '[Unauthorized Log Deletions]',
    'Compromised log ids: hospital-a:3',
  ],
  [
    'the tail truncated with its heads',
    1,
    (t) => t.truncate(7, true),
    '[Unauthorized Log Deletions]',
    'Compromised log ids: hospital-a:7, hospital-a:8',
  ],
  [
    'an entry rewritten and re-signed with the origin key (an insider at the origin)',
    0,
    async (t, key) => {
      await t.rewriteNotes(4, 'nothing happened here')
      await t.resignHeads('hospital-a', 4, key)
    },
    '[Unauthorized Log Modifications]',
    'Compromised log ids: hospital-a:4',
  ],
]

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

  async function withAdmins(
    dir: string,
    port: number,
    admin = 'it-security@hospital.example',
  ): Promise<void> {
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.alerts = {
      admins: [admin],
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

  async function tamper(dir: string, fn: Damage): Promise<void> {
    const identity = await openNodeDir(dir)
    const t = new Tamperer(join(dir, identity.config.dataDir), identity.storeKeys, 'hospital-a')
    await t.open()
    try {
      await fn(t, identity.signingKey)
    } finally {
      await t.close()
    }
  }

  for (const [what, victim, damage, subject, line] of CASES) {
    it(`${what}: one email naming the entries, and the replica repaired`, async () => {
      smtp = await startSmtpServer()
      const { dirs } = await initNetwork(await tempDir())
      await withAdmins(dirs[victim]!, smtp.port)
      nodes = await startNodes(dirs, { alertRetryMs: 200 })
      for (let b = 0; b < 2; b++)
        await nodes[0]!.ingest.submit([0, 1, 2, 3].map((i) => makeEvent(4 * b + i)))
      await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 8))
      await nodes[0]!.checkpoints.runRound()
      await waitFor('every node to hold the checkpoint', () =>
        nodes.every((n) => n.checkpoints.latest() !== undefined),
      )

      await nodes[victim]!.stop()
      await tamper(dirs[victim]!, damage)
      const started = Date.now()
      const [restarted] = await startNodes([dirs[victim]!], { alertRetryMs: 200 })
      nodes[victim] = restarted!
      const reporter = restarted!.status().node
      const peer = nodes[victim === 0 ? 1 : 0]!
      await waitFor('the alert email', () => smtp!.received.length > 0, 20_000)
      console.log(`${what}: email after ${Date.now() - started} ms`)
      const mail = parseMail(smtp.received[0]!.raw)
      expect(mail.subject.startsWith(subject)).toBe(true)
      expect(mail.text).toContain(line)
      expect(mail.text).toContain(`Reporting node: ${reporter}`)
      expect(smtp.received[0]!.rcptTo).toEqual(['it-security@hospital.example'])
      await expectNoPatientData(
        [smtp.received[0]!.raw, ...(await filesUnder(join(dirs[victim]!, 'alerts')))],
        ['patient-', 'Patient Name', 'note number', 'nothing happened here'],
      )
      await waitFor('the repair', async () => (await restarted!.store.verify()).ok)
      // the alert is an entry of the reporter's own feed, replicated to the others
      await waitFor('the alert entry at a peer', async () => {
        for await (const e of peer.store.entries(reporter))
          if (e.entry.kind === 'alert') return true
        return false
      })
      await new Promise((r) => setTimeout(r, 1000))
      expect(smtp.received).toHaveLength(1) // one incident, one email
    })
  }

  it('an equivocation: the admins of every other node get one email naming both entries, with the proof (no patient data) as evidence.json', async () => {
    smtp = await startSmtpServer()
    const { dirs } = await initNetwork(await tempDir())
    const admins = ['admin@hospital-b.example', 'admin@hospital-c.example']
    await withAdmins(dirs[1]!, smtp.port, admins[0])
    await withAdmins(dirs[2]!, smtp.port, admins[1])
    nodes = await startNodes(dirs, { alertRetryMs: 200 })
    const [a, b] = nodes as [EhrlogNode, EhrlogNode]
    for (let n = 0; n < 2; n++) await a.ingest.submit([0, 1, 2, 3].map((i) => makeEvent(4 * n + i)))
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-a') === 8))
    await waitFor('a full gossip mesh', () =>
      nodes.every((n) => n.net.peers().filter((p) => p.gossip).length === 2),
    )
    // Whoever holds hospital-a's key signs a second entry 8; hospital-b gossips it.
    const { signingKey, identity } = await openNodeDir(dirs[0]!)
    const authentic: Uint8Array[] = []
    for await (const e of a.store.entries('hospital-a')) authentic.push(e.hash)
    const rogue = {
      patientId: 'patient-rogue-4711',
      patientName: 'Rogue Name',
      notes: 'rogue note',
    }
    const event = makeEvent(99, rogue)
    const second = makeEntry('hospital-a', 8, authentic[6]!, 'event', event, new Date())
    const root = new MemoryTree([...authentic.slice(0, 7), second.hash]).root()
    b.net.publish({
      origin: 'hospital-a',
      entries: [second.bytes],
      head: signTreeHead(signingKey, 'hospital-a', 8, root),
    })
    await waitFor('both alert emails', () => smtp!.received.length >= 2, 20_000)
    expect(smtp.received.map((m) => m.rcptTo).sort()).toEqual(admins.map((a) => [a]))
    for (const received of smtp.received) {
      const mail = parseMail(received.raw)
      const reporter = received.rcptTo[0] === admins[0] ? 'hospital-b' : 'hospital-c'
      expect(mail.subject).toMatch(/^\[Equivocation\] hospital-a signed two different versions/)
      expect(mail.text).toContain('Compromised log ids: hospital-a:8')
      expect(mail.text).toContain(`Reporting node: ${reporter}`)
      const attached = mail.attachments.find((f) => f.filename === 'evidence.json')
      const { evidence } = JSON.parse(attached!.content.toString('utf8'))
      // The attachment is the proof on its own: it verifies with nothing but the origin's key.
      verifyEquivocation(
        decodeEvidence(new TextEncoder().encode(JSON.stringify({ v: 1, ...evidence }))),
        fromHex(identity.ed25519PublicKey, 32)!,
      )
      // Both entries by hash, and what may be read of them: no patient data.
      const sides = [evidence.a, evidence.b]
      expect(new Set(sides.map((e) => e.entryHash))).toEqual(
        new Set([authentic[7]!, second.hash].map((h) => Buffer.from(h).toString('hex'))),
      )
      expect(sides.map((e) => e.entry)).toEqual([undefined, undefined])
      const rogueView = sides.find((e) => e.entryHash === Buffer.from(second.hash).toString('hex'))
      expect(rogueView.entryWithoutPersonalData).toMatchObject({
        origin: 'hospital-a',
        seq: 8,
        kind: 'event',
        action: 'read',
        resource: 'user_prescriptions',
        time: event.time,
        outcome: 'success',
      })
      await expectNoPatientData(
        [
          received.raw,
          ...(await filesUnder(join(dirs[reporter === 'hospital-b' ? 1 : 2]!, 'alerts'))),
        ],
        [...Object.values(rogue), 'patient-0', 'Patient Name 0', 'note number 7', 'dr-0', 'dr-1'],
      )
    }
    await new Promise((r) => setTimeout(r, 1000))
    expect(smtp.received).toHaveLength(2) // one incident, one email per node
  })
})

/**
 * None of `secrets` in any of `messages` (raw emails, or paths of files under a node's
 * alerts/ folder): not in the raw text, nor in any part once decoded (an attachment may be
 * base64), nor in any base64 string inside JSON (an entry's bytes would be one).
 */
async function expectNoPatientData(
  messages: ReadonlyArray<Buffer | string>,
  secrets: readonly string[],
): Promise<void> {
  for (const m of messages) {
    const raw = typeof m === 'string' ? await readFile(m) : m
    const mail = parseMail(raw)
    const texts = [raw.toString('utf8'), mail.text]
    for (const part of [raw, ...mail.attachments.map((a) => a.content)]) {
      texts.push(part.toString('utf8'))
      texts.push(...base64Inside(part.toString('utf8')))
    }
    for (const text of texts)
      for (const secret of secrets)
        expect(text, `${typeof m === 'string' ? m : 'the email'} has ${secret}`).not.toContain(
          secret,
        )
  }
}

/** Decoded every string of a JSON text that reads as base64 (none when it is not JSON). */
function base64Inside(text: string): string[] {
  const found: string[] = []
  const walk = (v: unknown): void => {
    if (typeof v === 'string' && v.length >= 16 && /^[A-Za-z0-9+/]+=*$/.test(v))
      found.push(Buffer.from(v, 'base64').toString('utf8'))
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x)
  }
  try {
    walk(JSON.parse(text))
  } catch {}
  return found
}
