import type { AddressInfo } from 'node:net'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import type { AuditEvent } from '../core/event.ts'
import type { Logger } from '../logger.ts'
import { FrameIngest } from './frame-ingest.ts'
import { OctetFramer } from './octet-framer.ts'
import { defaultParseThreads, ParsePool } from './parse-pool.ts'
import type { SenderCounts } from './sender-counts.ts'

export interface SyslogListenerOptions {
  host: string
  port: number
  /** PEM: the listener's certificate and key, and the CA that issued the senders' certificates. */
  cert: string
  key: string
  ca: string
  /** Subject CNs of the sending systems allowed to record for this hospital. */
  allowedSubjects: readonly string[]
  /** Appends events durably (IngestQueue.submit); resolves once they are on disk. */
  submit: (events: AuditEvent[]) => Promise<unknown>
  counts: SenderCounts
  logger: Logger
  /** Largest syslog frame (default 64 KiB). */
  maxFrameBytes?: number
  /** Bytes one connection may hold unappended before it is paused (default 1 MiB). */
  maxConnectionBytes?: number
  /** Bytes all connections together may hold unappended before all are paused (default 16 MiB). */
  maxTotalBytes?: number
  /** Where frames are parsed (shared with the UDP listener); default: a pool of its own. */
  pool?: ParsePool
}

const KiB = 1024
const MiB = 1024 * KiB
/**
 * A batch is sent once it holds this many bytes of frames (about one TCP read), so that one
 * parse job stays short and one submit stays well inside an append batch's byte cap.
 */
const BATCH_FRAME_BYTES = 64 * KiB

/**
 * IHE ITI-20 Record Audit Event over RFC 5425 (syslog over TLS): mutual TLS against the
 * configured CA, then only the allowed certificate subjects; RFC 6587 octet-counted frames;
 * each frame an RFC 5424 message carrying an audit message (audit-message.ts). There is no
 * acknowledgement in syslog: a message is counted appended only once its events are durable,
 * refused with a logged reason otherwise, and a connection that holds too many bytes not yet
 * appended is paused (TCP backpressure) until the ingest queue catches up.
 */
export class SyslogListener {
  readonly #opts: Required<Omit<SyslogListenerOptions, 'pool'>>
  readonly #pool: ParsePool
  readonly #ownPool: boolean
  readonly #ingest: FrameIngest
  #lanes = 0
  #server: Server | undefined
  readonly #sockets = new Set<TLSSocket>()
  readonly #inFlight = new Set<Promise<void>>()
  /** Connections whose open batch waits for the end of this turn's reads: sends it now. */
  readonly #unsent = new Set<() => void>()
  #totalBytes = 0
  readonly #paused = new Set<() => void>()

  constructor({ pool, ...opts }: SyslogListenerOptions) {
    this.#opts = {
      maxFrameBytes: 64 * KiB,
      maxConnectionBytes: MiB,
      maxTotalBytes: 16 * MiB,
      ...opts,
    }
    this.#ownPool = pool === undefined
    this.#pool = pool ?? new ParsePool(defaultParseThreads())
    this.#ingest = new FrameIngest({
      submit: opts.submit,
      counts: opts.counts,
      pool: this.#pool,
      logger: opts.logger,
    })
  }

  /** The port bound (after start). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0
  }

  async start(): Promise<void> {
    const { cert, key, ca, host, port, logger } = this.#opts
    this.#pool.start()
    // RFC 5425 §5 (certificate-based authorization) / ATNA node authentication: the sender must present a certificate that
    // chains to the configured CA (requestCert + rejectUnauthorized); TLS 1.2 at least.
    const server = createServer({
      cert,
      key,
      ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    })
    server.on('secureConnection', (socket) => this.#accept(socket))
    server.on('tlsClientError', (err, socket) => {
      // A refused connection counts as one message received and refused (none is read from it).
      this.#opts.counts.count('unauthenticated', 'received')
      this.#opts.counts.count('unauthenticated', 'refused')
      logger.warn(
        { remote: socket.remoteAddress, err: err.message },
        'syslog: TLS handshake refused',
      )
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
    logger.info({ host, port: this.port }, 'syslog (RFC 5425) listening')
  }

  /** Stops accepting, closes every connection, and waits for appends in flight. Idempotent. */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const socket of this.#sockets) socket.destroy()
    // Frames counted received are appended or refused before stop() returns.
    for (const send of [...this.#unsent]) send()
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
    await Promise.allSettled([...this.#inFlight])
    if (this.#ownPool) await this.#pool.close()
  }

  #accept(socket: TLSSocket): void {
    const { allowedSubjects, counts, logger } = this.#opts
    const subject = socket.getPeerCertificate().subject?.CN
    const sender = typeof subject === 'string' ? subject : 'unnamed'
    if (!allowedSubjects.includes(sender)) {
      counts.count(sender, 'received')
      counts.count(sender, 'refused')
      logger.warn(
        { sender, remote: socket.remoteAddress },
        'syslog: certificate subject not allowed to send for this hospital',
      )
      socket.destroy()
      return
    }
    this.#sockets.add(socket)
    const framer = new OctetFramer(this.#opts.maxFrameBytes)
    // This connection's batches go to one parse thread, which answers in order: its messages
    // are submitted in the order they arrived.
    const lane = this.#lanes++
    let held = 0 // bytes of this connection received and not yet appended or refused
    // Frames completed by reads since the last batch went out. The reads of one turn of the
    // event loop (a TCP read of up to 64 KiB is several TLS records, one 'data' event each)
    // make one batch, up to BATCH_FRAME_BYTES: one parse job, one submit, one request to the
    // group commit.
    let batch: Buffer[] = []
    let batchBytes = 0
    let timer: NodeJS.Immediate | undefined
    const send = () => {
      if (timer) clearImmediate(timer)
      timer = undefined
      this.#unsent.delete(send)
      if (batch.length === 0) return
      const frames = batch
      const bytes = batchBytes
      batch = []
      batchBytes = 0
      const done = this.#ingest.ingest(sender, frames, lane).finally(() => {
        held -= bytes
        this.#totalBytes -= bytes
        this.#inFlight.delete(done)
        for (const wake of [...this.#paused]) wake()
      })
      this.#inFlight.add(done)
    }
    const resume = () => {
      if (
        held + framer.bufferedBytes <= this.#opts.maxConnectionBytes &&
        this.#totalBytes <= this.#opts.maxTotalBytes
      ) {
        this.#paused.delete(resume)
        socket.resume()
      }
    }
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[]
      try {
        frames = framer.push(chunk)
      } catch (err) {
        counts.count(sender, 'received')
        this.#ingest.refuse(sender, err)
        socket.destroy() // no later byte can be trusted to start a frame
        return
      }
      if (frames.length > 0) {
        let bytes = 0
        for (const f of frames) bytes += f.byteLength
        counts.count(sender, 'received', frames.length)
        held += bytes
        this.#totalBytes += bytes
        for (const f of frames) batch.push(f)
        batchBytes += bytes
        if (batchBytes >= BATCH_FRAME_BYTES) send()
        else if (!timer) {
          timer = setImmediate(send)
          this.#unsent.add(send)
        }
      }
      if (
        held + framer.bufferedBytes > this.#opts.maxConnectionBytes ||
        this.#totalBytes > this.#opts.maxTotalBytes
      ) {
        socket.pause()
        this.#paused.add(resume)
      }
    })
    socket.on('end', () => {
      if (!framer.idle) {
        counts.count(sender, 'received')
        this.#ingest.refuse(
          sender,
          new Error(`stream ended inside a frame (${framer.bufferedBytes} bytes held)`),
        )
      }
      socket.end()
    })
    socket.on('error', (err) =>
      logger.warn({ sender, err: err.message }, 'syslog: connection error'),
    )
    socket.on('close', () => {
      this.#sockets.delete(socket)
      this.#paused.delete(resume)
    })
  }
}
