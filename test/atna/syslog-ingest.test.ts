// ATNA ITI-20 on real sockets: three real nodes on loopback, the first listening for RFC 5425
// syslog over TLS; real TLS clients with certificates made by openssl send audit messages.
import { afterEach, describe, expect, it } from 'vitest'
import type { EhrlogNode } from '../../node/node.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { readReplica } from '../e2e/replicas.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { type AtnaWorld, SENDER, sendOverTls, startAtnaNetwork } from './harness.ts'
import { DICOM_PATIENT_RECORD, framed, RFC3881_QUERY, syslogOf, XML_BOMB } from './messages.ts'

const tally = (node: EhrlogNode, sender: string) =>
  node.status().syslog?.find((s) => s.sender === sender) ?? { received: 0, appended: 0, refused: 0 }

const sizeOf = (node: EhrlogNode, origin: string) => node.store.sizes().get(origin) ?? 0

describe('ATNA syslog over TLS (RFC 5425, ITI-20)', () => {
  const tempDir = useTempDirs()
  let world: AtnaWorld | undefined
  afterEach(async () => {
    await Promise.all(world?.nodes.map((n) => n.stop()) ?? [])
    world = undefined
  })

  it('appends DICOM and RFC 3881 messages from an allowed sender; they replicate and verify on all three nodes', async () => {
    world = await startAtnaNetwork(await tempDir(), 3)
    const [first] = world.nodes
    const origin = first!.status().node
    const before = sizeOf(first!, origin)
    await sendOverTls(
      world,
      world.ehr,
      Buffer.concat([framed(syslogOf(DICOM_PATIENT_RECORD)), framed(syslogOf(RFC3881_QUERY))]),
    )
    await waitFor('two messages appended', () => tally(first!, SENDER).appended === 2)
    expect(tally(first!, SENDER)).toMatchObject({ received: 2, appended: 2, refused: 0 })
    for (const node of world.nodes)
      await waitFor('replication', () => sizeOf(node, origin) === before + 3)
    const dirs = world.dirs
    await Promise.all(world.nodes.map((n) => n.stop()))
    world = undefined
    for (const dir of dirs) {
      const verify = await runCli(['verify', '--dir', dir])
      expect(verify.code, verify.out + verify.err).toBe(0)
      const events = (await readReplica(dir)).map((e) => e.body).filter((b) => b.source)
      expect(events.map((e) => [e.source, e.patientId, e.action])).toEqual([
        ['PACS-1', 'PAT-0042^^^&1.2.3.4&ISO', 'update'],
        ['EHR-FRONTEND', 'PAT-0042', 'query'],
        ['EHR-FRONTEND', 'PAT-0043', 'query'],
      ])
      expect(Buffer.from(events[0]!.original!, 'base64').toString()).toBe(DICOM_PATIENT_RECORD)
    }
  }, 120_000)

  it('refuses senders without an allowed certificate, and bad messages, counted and logged; the node keeps running', async () => {
    world = await startAtnaNetwork(await tempDir(), 1)
    const [node] = world.nodes
    const origin = node!.status().node
    const before = sizeOf(node!, origin)
    const good = framed(syslogOf(DICOM_PATIENT_RECORD))
    await sendOverTls(world, world.intruder, good)
    await sendOverTls(world, world.forged, good)
    await waitFor(
      'both refused',
      () =>
        tally(node!, 'intruder.hospital-a.test').refused === 1 &&
        tally(node!, 'unauthenticated').refused === 1,
    )
    const bad: Array<[string, Buffer]> = [
      ['malformed', framed(syslogOf('<AuditMessage><EventIdentification/></AuditMessage>'))],
      ['not syslog', framed(Buffer.from('hello, world'))],
      ['truncated', framed(syslogOf(DICOM_PATIENT_RECORD)).subarray(0, 300)],
      ['oversized', Buffer.from(`${2 * 1024 * 1024} <85>1 - - - - - - `)],
      ['XML bomb', framed(syslogOf(XML_BOMB))],
      [
        'non-transparent framing',
        Buffer.concat([syslogOf(DICOM_PATIENT_RECORD), Buffer.from('\n')]),
      ],
    ]
    for (const [, bytes] of bad) await sendOverTls(world, world.ehr, bytes)
    await waitFor('six refused', () => tally(node!, SENDER).refused === bad.length)
    expect(tally(node!, SENDER)).toMatchObject({ received: bad.length, appended: 0 })
    expect(sizeOf(node!, origin)).toBe(before)
    const refusals = world.logs
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'syslog: message refused')
    expect(refusals).toHaveLength(bad.length)
    for (const r of refusals) {
      expect(r.sender).toBe(SENDER)
      expect(r.reason).toEqual(expect.any(String))
    }
    expect(refusals.map((r) => r.code)).toContain('PAYLOAD_TOO_LARGE')
    expect(world.logs.some((l) => l.includes('certificate subject not allowed'))).toBe(true)
    // Still running: a good message after all that is appended.
    await sendOverTls(world, world.ehr, good)
    await waitFor('appended after the refusals', () => tally(node!, SENDER).appended === 1)
    expect(sizeOf(node!, origin)).toBe(before + 1)
    // Status over HTTP and the metrics carry the counts, by sender and outcome only.
    const status = await (await fetch(`${node!.httpUrl}/api/v1/status`)).json()
    expect(status.syslog).toContainEqual({ sender: SENDER, received: 7, appended: 1, refused: 6 })
    const cli = await runCli(['status', '--node', node!.httpUrl])
    expect(cli.out).toMatch(/SYSLOG SENDER +RECEIVED +APPENDED +REFUSED/)
    expect(cli.out).toMatch(/ehr\.hospital-a\.test +7 +1 +6/)
    const metrics = await (await fetch(`${node!.httpUrl}/metrics`)).text()
    expect(metrics).toContain(
      `ehrlog_syslog_messages_total{sender="${SENDER}",outcome="refused"} 6`,
    )
  }, 120_000)

  it('appends a burst of 10,000 messages exactly once', async () => {
    world = await startAtnaNetwork(await tempDir(), 1)
    const [node] = world.nodes
    const origin = node!.status().node
    const before = sizeOf(node!, origin)
    const count = 10_000
    const frames = Array.from({ length: count }, (_, i) =>
      framed(syslogOf(DICOM_PATIENT_RECORD.replace('PAT-0042^^^&amp;1.2.3.4&amp;ISO', `P-${i}`))),
    )
    await sendOverTls(world, world.ehr, Buffer.concat(frames))
    await waitFor('all appended', () => tally(node!, SENDER).appended === count, 60_000)
    expect(tally(node!, SENDER)).toMatchObject({ received: count, refused: 0 })
    expect(sizeOf(node!, origin)).toBe(before + count)
    const dir = world.dirs[0]!
    await node!.stop()
    world = undefined
    const ids = (await readReplica(dir)).filter((e) => e.body.source).map((e) => e.body.patientId)
    expect(ids).toHaveLength(count)
    expect(new Set(ids).size).toBe(count)
  }, 180_000)
})
