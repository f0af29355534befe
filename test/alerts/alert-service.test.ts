import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AlertBody,
  AlertService,
  type AlertServiceOptions,
  alertBodySchema,
  INCIDENT_KINDS,
} from '../../node/alerts/index.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { smtpConfigSchema } from '../../node/identity/index.ts'
import { createLogger } from '../../node/logger.ts'
import { makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { makeIncident } from './fixtures.ts'
import { closedPort, parseMail, startSmtpServer, type TestSmtpServer } from './smtp-harness.ts'

const ADMINS = ['admin@b.example', 'oncall@b.example']
const tempDir = useTempDirs()
// Registered after useTempDirs: vitest runs after-hooks in reverse, so these run first.
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

function captureLogger() {
  const lines: LogLine[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line))
      callback()
    },
  })
  return { logger: createLogger({ destination, level: 'debug' }), lines }
}

async function smtpServer(port = 0, options: { starttls?: boolean } = {}): Promise<TestSmtpServer> {
  const server = await startSmtpServer(port, options)
  cleanups.push(() => server.close())
  return server
}

function smtpFor(port: number) {
  return smtpConfigSchema.parse({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: false,
    from: 'ehrlog@b.example',
  })
}

async function startService(options: Partial<AlertServiceOptions> & { dir: string }) {
  const service = new AlertService({
    node: 'b',
    admins: ADMINS,
    logger: captureLogger().logger,
    retryMs: 200,
    ...options,
  })
  await service.start()
  cleanups.push(() => service.stop())
  return service
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const files = (dir: string, folder: string) => readdir(join(dir, 'alerts', folder))

describe('AlertService over SMTP', () => {
  it('sends one email per incident, to the admins, and one only when reported again', async () => {
    const server = await smtpServer()
    const dir = await tempDir()
    const service = await startService({ dir, smtp: smtpFor(server.port) })

    const first = await service.report(makeIncident('modified'))
    expect(first.isNew).toBe(true)
    expect(server.received).toHaveLength(1)
    const { raw, mailFrom, rcptTo } = server.received[0]!
    expect(mailFrom).toBe('ehrlog@b.example')
    expect(rcptTo).toEqual(ADMINS)
    const mail = parseMail(raw)
    expect(mail.subject).toBe(
      '[Unauthorized Log Modifications] 2 entries of a modified in the replica on b (seq 3-4)',
    )
    expect(mail.text).toContain('\nCompromised log ids: a:3, a:4\n')
    expect(mail.text).toContain('\nReporting node: b\n')
    expect(mail.text).toContain('\nOrigin: a\n')
    expect(mail.attachments.map((a) => a.filename)).toEqual(['evidence.json'])
    expect(await files(dir, 'sent')).toEqual([`${first.id}.eml`])
    expect(await files(dir, 'queue')).toEqual([])
    expect(service.pending()).toBe(0)

    const again = await service.report(
      makeIncident('modified', { detectedAt: '2024-05-02T00:00:00.000Z' }),
    )
    expect(again).toEqual({ id: first.id, isNew: false })
    expect(server.received).toHaveLength(1)

    // Two code paths reporting one incident at the same moment: still one email.
    const racing = await Promise.all([
      service.report(makeIncident('deleted')),
      service.report(makeIncident('deleted')),
    ])
    expect(racing.map((r) => r.isNew).sort()).toEqual([false, true])
    expect(server.received).toHaveLength(2)

    // And after a restart (the known/ markers): no email for an incident already sent.
    await service.stop()
    const restarted = await startService({ dir, smtp: smtpFor(server.port) })
    expect((await restarted.report(makeIncident('modified'))).isNew).toBe(false)
    expect(server.received).toHaveLength(2)
  })

  it('renders each kind with its seed-style subject', async () => {
    const server = await smtpServer()
    const service = await startService({ dir: await tempDir(), smtp: smtpFor(server.port) })
    for (const kind of INCIDENT_KINDS) await service.report(makeIncident(kind))
    expect(server.received.map((m) => parseMail(m.raw).subject.replace(/\].*/, ']'))).toEqual([
      '[Unauthorized Log Modifications]',
      '[Unauthorized Log Deletions]',
      '[Replica Divergence]',
      '[Index Divergence]',
      '[Equivocation]',
      '[Invalid Checkpoint]',
      '[Network Degraded]',
      '[Network Recovered]',
      '[Rotated-Out Key Used]',
    ])
  })

  it('stop() waits for a report in progress: its files are whole on disk when it returns', async () => {
    const dir = await tempDir()
    const service = await startService({ dir }) // no SMTP: emails go to the outbox
    const reported = service.report(makeIncident('deleted'))
    await service.stop()
    const { id, isNew } = await reported
    expect(isNew).toBe(true)
    expect(await readdir(join(dir, 'alerts', 'known'))).toEqual([id])
    // Stopped before it could be sent: queued on disk for the next start, not lost.
    expect(await readdir(join(dir, 'alerts', 'queue'))).toEqual([`${id}.eml`])
    await expect(service.report(makeIncident('modified'))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    })
  })

  it('queues while the SMTP server is down and delivers once it is up', async () => {
    const port = await closedPort()
    const dir = await tempDir()
    const { logger, lines } = captureLogger()
    const service = await startService({ dir, smtp: smtpFor(port), logger })

    const { id } = await service.report(makeIncident('modified'))
    expect(service.pending()).toBe(1)
    expect(await files(dir, 'queue')).toEqual([`${id}.eml`])
    expect(await files(dir, 'sent')).toEqual([])
    expect(lines.some((l) => l.msg.includes('email not sent'))).toBe(true)

    // A second incident while backing off waits in the queue behind the first.
    const second = await service.report(makeIncident('deleted'))
    expect(service.pending()).toBe(2)

    const server = await smtpServer(port)
    await waitFor(() => server.received.length === 2)
    // pending() drops a file once its move to sent/ is durable (after the folder fsyncs).
    await waitFor(() => service.pending() === 0)
    expect((await files(dir, 'sent')).sort()).toEqual([`${id}.eml`, `${second.id}.eml`].sort())
    expect(await files(dir, 'queue')).toEqual([])
    expect(server.received.map((m) => parseMail(m.raw).headers.get('x-ehrlog-incident'))).toEqual([
      id,
      second.id,
    ])
  })

  it('sends what a previous run left in the queue when it starts', async () => {
    const port = await closedPort()
    const dir = await tempDir()
    const before = await startService({ dir, smtp: smtpFor(port) })
    const { id } = await before.report(makeIncident('equivocation'))
    await before.stop()
    const queued = await readFile(join(dir, 'alerts', 'queue', `${id}.eml`))

    const server = await smtpServer(port)
    // A long retry interval: the delivery below is start()'s, not the timer's.
    await startService({ dir, smtp: smtpFor(port), retryMs: 60_000 })
    await waitFor(() => server.received.length === 1)
    expect(server.received[0]!.raw.equals(queued)).toBe(true)
    await waitFor(async () => (await files(dir, 'sent')).includes(`${id}.eml`))
  })

  it('by default insists on STARTTLS with a verified certificate', async () => {
    const server = await smtpServer(0, { starttls: true })
    const base = { host: '127.0.0.1', port: server.port, from: 'ehrlog@b.example' }
    // Defaults: requireTLS and rejectUnauthorized. The test server's certificate is
    // self-signed, so nothing is sent: the email waits in the queue.
    const strictDir = await tempDir()
    const strict = await startService({ dir: strictDir, smtp: smtpConfigSchema.parse(base) })
    await strict.report(makeIncident('modified'))
    expect(server.received).toHaveLength(0)
    expect(strict.pending()).toBe(1)
    await strict.stop()

    const trusting = await startService({
      dir: await tempDir(),
      smtp: smtpConfigSchema.parse({ ...base, rejectUnauthorized: false }),
    })
    await trusting.report(makeIncident('modified'))
    expect(server.received).toHaveLength(1)
    expect(server.received[0]!.secure).toBe(true)
    expect(trusting.pending()).toBe(0)
  })

  it('refuses to send in clear text when STARTTLS is required but not offered', async () => {
    const server = await smtpServer()
    const service = await startService({
      dir: await tempDir(),
      smtp: smtpConfigSchema.parse({
        host: '127.0.0.1',
        port: server.port,
        from: 'ehrlog@b.example',
        rejectUnauthorized: false,
      }),
    })
    await service.report(makeIncident('modified'))
    expect(server.received).toHaveLength(0)
    expect(service.pending()).toBe(1)
  })

  it('stops retrying at stop()', async () => {
    const port = await closedPort()
    const service = await startService({ dir: await tempDir(), smtp: smtpFor(port) })
    await service.report(makeIncident('modified'))
    await service.stop()
    await service.stop()
    const server = await smtpServer(port)
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(server.received).toHaveLength(0)
  })
})

describe('AlertService recording in the feed', () => {
  it('hands record() the alert body: valid, ids and hashes only, no patient data', async () => {
    const bodies: AlertBody[] = []
    const service = await startService({
      dir: await tempDir(),
      record: async (body) => {
        bodies.push(body)
      },
    })
    const incident = makeIncident('modified', {
      evidence: { entry: { patientName: 'Anish', patientId: 'patient-1', actorId: 'dr-12' } },
    })
    const { id } = await service.report(incident)
    await service.report(incident)
    expect(bodies).toHaveLength(1)
    expect(alertBodySchema.parse(bodies[0])).toEqual(bodies[0])
    expect(bodies[0]).toMatchObject({ incidentId: id, kind: 'modified', entryIds: ['a:3', 'a:4'] })
    expect(JSON.stringify(bodies[0])).not.toMatch(/Anish|patient|dr-12/)
  })

  it('appends it to the node own feed in a real store', async () => {
    const signer = makeSigner('b')
    const store = openStore(join(await tempDir(), 'db'), makeStoreKeys(), [signer])
    await store.open()
    cleanups.push(() => store.close())
    const service = await startService({
      dir: await tempDir(),
      record: async (body) => {
        await store.appendEntries(signer, [{ kind: 'alert', body }])
      },
    })
    const { id } = await service.report(makeIncident('diverged'))
    const entry = (await store.getEntry('b', 1))?.entry
    expect(entry?.kind).toBe('alert')
    expect(entry?.body).toMatchObject({ incidentId: id, kind: 'diverged', origin: 'a' })
  })

  it('keeps an alert it could not record and records it at the retry', async () => {
    const dir = await tempDir()
    const bodies: AlertBody[] = []
    let failing = true
    const service = await startService({
      dir,
      record: async (body) => {
        if (failing) throw new Error('store is closed')
        bodies.push(body)
      },
    })
    const { id } = await service.report(makeIncident('deleted'))
    expect(await files(dir, 'unrecorded')).toEqual([`${id}.json`])
    failing = false
    await waitFor(() => bodies.length === 1)
    expect(bodies[0]!.incidentId).toBe(id)
    await waitFor(async () => (await files(dir, 'unrecorded')).length === 0)
  })
})

describe('AlertService without SMTP', () => {
  it('delivers to the outbox folder and the node log', async () => {
    const dir = await tempDir()
    const { logger, lines } = captureLogger()
    const service = await startService({ dir, logger })
    const { id } = await service.report(makeIncident('modified'))
    expect(await files(dir, 'outbox')).toEqual([`${id}.eml`])
    expect(await files(dir, 'queue')).toEqual([])
    expect(service.pending()).toBe(0)

    const mail = parseMail(await readFile(join(dir, 'alerts', 'outbox', `${id}.eml`)))
    expect(mail.subject.startsWith('[Unauthorized Log Modifications]')).toBe(true)
    expect(mail.headers.get('from')).toBe('ehrlog@b.invalid')
    expect(mail.headers.get('to')).toBe(ADMINS.join(', '))

    const reported = lines.find((l) => l.level === 50)
    expect(reported?.msg).toContain('[Unauthorized Log Modifications]')
    expect(reported?.alert).toMatchObject({ id, origin: 'a', entryIds: ['a:3', 'a:4'] })
    const outboxed = lines.find((l) => l.msg.includes('outbox'))
    expect(outboxed?.path).toBe(join(dir, 'alerts', 'outbox', `${id}.eml`))
  })

  it('uses the outbox when SMTP is configured but no admin is', async () => {
    const server = await smtpServer()
    const dir = await tempDir()
    const service = await startService({ dir, smtp: smtpFor(server.port), admins: [] })
    const { id } = await service.report(makeIncident('equivocation'))
    expect(await files(dir, 'outbox')).toEqual([`${id}.eml`])
    expect(server.received).toHaveLength(0)
  })
})

describe('AlertService refusals', () => {
  it('refuses a malformed incident with ARGUMENT_INVALID and writes nothing', async () => {
    const dir = await tempDir()
    const service = await startService({ dir })
    const error = await service
      .report(makeIncident('modified', { detectedAt: 'not a time' }))
      .catch((err: unknown) => err)
    expect(isEhrlogError(error, 'ARGUMENT_INVALID')).toBe(true)
    for (const folder of ['queue', 'outbox', 'known', 'unrecorded']) {
      expect(await files(dir, folder)).toEqual([])
    }
  })

  it('refuses reports before start() with UNAVAILABLE', async () => {
    const service = new AlertService({
      node: 'b',
      admins: ADMINS,
      dir: await tempDir(),
      logger: captureLogger().logger,
    })
    const error = await service.report(makeIncident()).catch((err: unknown) => err)
    expect(isEhrlogError(error, 'UNAVAILABLE')).toBe(true)
    await service.stop()
  })
})
