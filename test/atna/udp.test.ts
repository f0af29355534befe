// ATNA ITI-20 over RFC 5426 (syslog over UDP) on real sockets: a real node listening on
// 127.0.0.1 that takes datagrams only from 127.0.0.1/32, and node:dgram senders bound to
// 127.0.0.1 and (the disallowed source) 127.0.0.2.
import { createSocket, type Socket } from 'node:dgram'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { ParsePool, SenderCounts, UdpListener } from '../../node/atna/index.ts'
import { silentLogger } from '../../node/logger.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { basePort, initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { readReplica } from '../e2e/replicas.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { DICOM_PATIENT_RECORD, framed, RFC3881_QUERY, syslogOf, XML_BOMB } from './messages.ts'

const FROM = 'udp:127.0.0.1'

const tally = (node: EhrlogNode, sender: string) =>
  node.status().syslog?.find((s) => s.sender === sender) ?? { received: 0, appended: 0, refused: 0 }

const sizeOf = (node: EhrlogNode, origin: string) => node.store.sizes().get(origin) ?? 0

/** A UDP socket bound to `address` (any 127/8 address is loopback on Linux). */
async function sender(address: string): Promise<Socket> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind({ address, port: 0 }, resolve))
  return socket
}

function send(socket: Socket, port: number, datagram: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
  )
}

describe('ATNA syslog over UDP (RFC 5426, ITI-20)', () => {
  const tempDir = useTempDirs()
  const cleanup: Array<() => unknown> = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
  })

  it('appends a datagram from an allowed source; refuses bad datagrams and other sources, counted and logged; writes nothing for them', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root, 1)
    const port = basePort() + 8
    const configFile = join(dirs[0]!, 'config.json')
    const config = JSON.parse(await readFile(configFile, 'utf8'))
    config.syslog = {
      udp: { port, allowedNetworks: ['127.0.0.1/32'], maxDatagramBytes: 4096 },
    }
    await writeFile(configFile, JSON.stringify(config), { mode: 0o600 })
    const logs: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) })
    const [node] = await startNodes(dirs, { logger })
    let running = true
    cleanup.push(() => running && node!.stop())
    const origin = node!.status().node
    const before = sizeOf(node!, origin)
    const local = await sender('127.0.0.1')
    cleanup.push(() => local.close())

    // RFC 5426 §3.1: one datagram, one message, no octet count in front.
    await send(local, port, syslogOf(DICOM_PATIENT_RECORD))
    await waitFor('appended', () => tally(node!, FROM).appended === 1)
    expect(sizeOf(node!, origin)).toBe(before + 1)

    const bad: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['not syslog', Buffer.from('hello, world')],
      ['RFC 3164', Buffer.from('<34>Oct 11 22:14:15 mymachine su: su root failed on /dev/pts/8')],
      ['octet-counted (TLS framing)', framed(syslogOf(DICOM_PATIENT_RECORD))],
      ['malformed audit message', syslogOf('<AuditMessage><EventIdentification/></AuditMessage>')],
      ['XML not well-formed', syslogOf('<AuditMessage><EventIdentification></AuditMessage>')],
      ['XML bomb', syslogOf(XML_BOMB)],
      ['over maxDatagramBytes', syslogOf(`${DICOM_PATIENT_RECORD}<!--${'x'.repeat(4096)}-->`)],
    ]
    for (const [, datagram] of bad) await send(local, port, datagram)
    await waitFor('all refused', () => tally(node!, FROM).refused === bad.length)
    expect(tally(node!, FROM)).toEqual({
      sender: FROM,
      received: 1 + bad.length,
      appended: 1,
      refused: bad.length,
    })
    expect(sizeOf(node!, origin)).toBe(before + 1)

    // 127.0.0.2 is loopback too, but not in allowedNetworks.
    const other = await sender('127.0.0.2')
    cleanup.push(() => other.close())
    await send(other, port, syslogOf(RFC3881_QUERY))
    await waitFor('refused by source', () => tally(node!, 'udp:not-allowed').refused === 1)
    expect(tally(node!, 'udp:not-allowed')).toMatchObject({ received: 1, appended: 0 })
    expect(node!.status().syslog?.map((s) => s.sender)).not.toContain('udp:127.0.0.2')
    expect(sizeOf(node!, origin)).toBe(before + 1)

    const refusals = logs
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'syslog: message refused')
    expect(refusals).toHaveLength(bad.length + 1)
    expect(refusals.filter((r) => r.sender === FROM)).toHaveLength(bad.length)
    expect(refusals.map((r) => r.code)).toEqual(
      expect.arrayContaining(['MESSAGE_INVALID', 'PAYLOAD_TOO_LARGE', 'FORBIDDEN']),
    )
    expect(refusals.find((r) => r.code === 'FORBIDDEN')).toMatchObject({
      sender: 'udp:not-allowed',
      remote: '127.0.0.2',
    })

    // The listener survived all of it.
    await send(local, port, syslogOf(RFC3881_QUERY))
    await waitFor('appended after the refusals', () => tally(node!, FROM).appended === 2)
    expect(sizeOf(node!, origin)).toBe(before + 3) // the query names two patients

    // Status over HTTP, `ehrlog status` and the metrics count UDP senders as they count TLS ones.
    const status = await (await fetch(`${node!.httpUrl}/api/v1/status`)).json()
    expect(status.syslog).toContainEqual({ sender: FROM, received: 10, appended: 2, refused: 8 })
    const cli = await runCli(['status', '--node', node!.httpUrl])
    expect(cli.out).toMatch(/udp:127\.0\.0\.1 +10 +2 +8/)
    const metrics = await (await fetch(`${node!.httpUrl}/metrics`)).text()
    expect(metrics).toContain(`ehrlog_syslog_messages_total{sender="${FROM}",outcome="appended"} 2`)
    expect(metrics).toContain(
      'ehrlog_syslog_messages_total{sender="udp:not-allowed",outcome="refused"} 1',
    )

    const dir = dirs[0]!
    await node!.stop()
    running = false
    const events = (await readReplica(dir)).map((e) => e.body).filter((b) => b.source)
    expect(events.map((e) => [e.source, e.patientId])).toEqual([
      ['PACS-1', 'PAT-0042^^^&1.2.3.4&ISO'],
      ['EHR-FRONTEND', 'PAT-0042'],
      ['EHR-FRONTEND', 'PAT-0043'],
    ])
  }, 120_000)

  it('appends every datagram of a burst that arrives exactly once, in batches', async () => {
    const appended: string[] = []
    const counts = new SenderCounts()
    const pool = new ParsePool(1)
    const listener = new UdpListener({
      host: '127.0.0.1',
      port: 0,
      allowedNetworks: [],
      maxDatagramBytes: 65507,
      submit: async (events) => {
        for (const e of events) appended.push(e.patientId)
      },
      counts,
      pool,
      logger: silentLogger(),
    })
    await listener.start()
    cleanup.push(() => pool.close())
    cleanup.push(() => listener.stop())
    const local = await sender('127.0.0.1')
    cleanup.push(() => local.close())
    const count = 300
    for (let i = 0; i < count; i++) {
      const xml = DICOM_PATIENT_RECORD.replace('PAT-0042^^^&amp;1.2.3.4&amp;ISO', `P-${i}`)
      await send(local, listener.port, syslogOf(xml))
    }
    const t = () => counts.tallies().find((x) => x.sender === FROM)
    // UDP may drop in the kernel under a burst: what arrived is what is counted.
    await waitFor('settled', () => {
      const x = t()
      return x !== undefined && x.received > 0 && x.appended + x.refused === x.received
    })
    await new Promise((r) => setTimeout(r, 200))
    const x = t()!
    expect(x.refused).toBe(0)
    expect(x.appended).toBe(x.received)
    expect(appended).toHaveLength(x.received)
    expect(new Set(appended).size).toBe(appended.length)
    expect(pool.batchesOnThreads).toBeGreaterThan(0)
    expect(pool.batchesOnThreads).toBeLessThanOrEqual(x.received)
  }, 60_000)

  it('refuses datagrams beyond its memory bound while appends wait; never holds them', async () => {
    const counts = new SenderCounts()
    const pool = new ParsePool(0)
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const message = syslogOf(DICOM_PATIENT_RECORD)
    const listener = new UdpListener({
      host: '127.0.0.1',
      port: 0,
      allowedNetworks: [],
      maxDatagramBytes: 65507,
      submit: () => gate, // the ingest queue is stuck
      counts,
      pool,
      logger: silentLogger(),
      maxTotalBytes: message.byteLength * 3,
    })
    await listener.start()
    cleanup.push(() => listener.stop())
    const local = await sender('127.0.0.1')
    cleanup.push(() => local.close())
    for (let i = 0; i < 10; i++) await send(local, listener.port, message)
    const t = () => counts.tallies().find((x) => x.sender === FROM)
    await waitFor('ten received', () => t()?.received === 10)
    expect(t()).toMatchObject({ appended: 0, refused: 7 })
    open()
    await waitFor('three appended', () => t()?.appended === 3)
    expect(t()).toMatchObject({ received: 10, appended: 3, refused: 7 })
  }, 30_000)
})
