import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  raw: Buffer
  mailFrom: string
  rcptTo: string[]
  /** Whether the session was upgraded with STARTTLS. */
  secure: boolean
}

export interface TestSmtpServer {
  port: number
  received: ReceivedMail[]
  close(): Promise<void>
}

/**
 * A real SMTP server (smtp-server) on 127.0.0.1, keeping each message's raw bytes and
 * envelope. Plaintext by default (the client config for tests sets secure and requireTLS
 * false); with `starttls`, it offers STARTTLS with smtp-server's built-in self-signed
 * certificate.
 */
export async function startSmtpServer(
  port = 0,
  options: { starttls?: boolean } = {},
): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.starttls ? [] : ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('error', callback)
      stream.on('end', () => {
        const mailFrom = session.envelope.mailFrom
        received.push({
          raw: Buffer.concat(chunks),
          mailFrom: mailFrom ? mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
        })
        callback()
      })
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const address = server.server.address() as AddressInfo
  return {
    port: address.port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** A port nothing listens on (it was free a moment ago): "the SMTP server is down". */
export async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

export interface ParsedMail {
  headers: Map<string, string>
  subject: string
  text: string
  attachments: Array<{ filename: string; content: Buffer }>
}

/**
 * Just enough MIME to read what AlertService sends (no mail parser is installed): unfolded
 * headers, multipart/mixed one level deep, 7bit / quoted-printable / base64 parts.
 */
export function parseMail(raw: Buffer): ParsedMail {
  const { headers, body } = splitHeaders(raw.toString('utf8'))
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1]
  const parts = boundary
    ? body
        .split(`--${boundary}`)
        .slice(1, -1)
        .map((p) => splitHeaders(p.replace(/^\r\n/, '')))
    : [{ headers, body }]
  let text = ''
  const attachments: ParsedMail['attachments'] = []
  for (const part of parts) {
    const content = decodeBody(part.body, part.headers.get('content-transfer-encoding') ?? '7bit')
    const filename = /filename="?([^";]+)"?/.exec(
      part.headers.get('content-disposition') ?? '',
    )?.[1]
    if (filename) attachments.push({ filename, content })
    else if ((part.headers.get('content-type') ?? '').startsWith('text/plain'))
      text = content.toString('utf8').replace(/\r\n/g, '\n')
  }
  return { headers, subject: headers.get('subject') ?? '', text, attachments }
}

function splitHeaders(message: string): { headers: Map<string, string>; body: string } {
  const end = message.indexOf('\r\n\r\n')
  const head = message.slice(0, end).replace(/\r\n(?=[ \t])/g, '') // RFC 5322 unfolding
  const headers = new Map<string, string>()
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':')
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return { headers, body: message.slice(end + 4) }
}

function decodeBody(body: string, encoding: string): Buffer {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64')
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/gi, (_, hex: string) =>
            String.fromCharCode(Number.parseInt(hex, 16)),
          ),
        'latin1',
      )
    default:
      return Buffer.from(body, 'utf8')
  }
}
