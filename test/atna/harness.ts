import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { pino } from 'pino'
import { SyslogListener, type SyslogListenerOptions } from '../../node/atna/index.ts'
import { silentLogger } from '../../node/logger.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { type Issued, issue, makeCa } from '../../scripts/atna-certs.ts'
import { basePort, initNetwork, startNodes } from '../../scripts/in-process-network.ts'

export const SENDER = 'ehr.hospital-a.test'

export interface AtnaWorld {
  nodes: EhrlogNode[]
  dirs: string[]
  port: number
  ca: Issued
  ehr: Issued
  /** Issued by the hospital's CA, but not in allowedSubjects. */
  intruder: Issued
  /** Same CN as the EHR, issued by a CA the node does not trust. */
  forged: Issued
  /** Lines the nodes logged (JSON). */
  logs: string[]
}

/**
 * A network of `count` nodes whose first node listens for ATNA syslog over TLS, with a CA,
 * the listener's certificate and the senders' made by openssl in DIR/atna/.
 */
export async function startAtnaNetwork(root: string, count: number): Promise<AtnaWorld> {
  const { dirs } = await initNetwork(root, count)
  const dir = dirs[0]!
  const certs = join(dir, 'atna')
  await mkdir(certs)
  const ca = await makeCa(certs, 'hospital-a-ca')
  // The listener's certificate, named in config.json below.
  await issue(certs, ca, 'syslog.hospital-a.test')
  const ehr = await issue(certs, ca, SENDER)
  const intruder = await issue(certs, ca, 'intruder.hospital-a.test')
  const elsewhere = join(root, 'elsewhere')
  await mkdir(elsewhere)
  const forged = await issue(elsewhere, await makeCa(elsewhere, 'other-ca'), SENDER)
  const port = basePort() + 7
  const configFile = join(dir, 'config.json')
  const config = JSON.parse(await readFile(configFile, 'utf8'))
  config.syslog = {
    tls: {
      port,
      cert: 'atna/syslog.hospital-a.test.crt',
      key: 'atna/syslog.hospital-a.test.key',
      ca: 'atna/hospital-a-ca.crt',
      allowedSubjects: [SENDER],
    },
  }
  await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 })
  const logs: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) })
  const nodes = await startNodes(dirs, { logger })
  return { nodes, dirs, port, ca, ehr, intruder, forged, logs }
}

/**
 * A real TLS client with a client certificate, to a listener on 127.0.0.1:`port` whose
 * certificate `ca` issued for "localhost": writes `bytes` once connected and ends. A refused
 * sender sees a reset or an alert: the outcome is read from the node, not here.
 */
export function sendTlsBytes(
  port: number,
  ca: { cert: string },
  client: Issued,
  bytes: Buffer,
): TLSSocket {
  const socket: TLSSocket = connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: ca.cert,
    cert: client.cert,
    key: client.key,
  })
  socket.on('secureConnect', () => socket.end(bytes))
  socket.on('error', () => {})
  return socket
}

/** sendTlsBytes to the world's listener, and waits for the connection to close. */
export function sendOverTls(world: AtnaWorld, client: Issued, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    sendTlsBytes(world.port, world.ca, client, bytes).on('close', () => resolve())
  })
}

/**
 * A SyslogListener alone (no node) on 127.0.0.1, a free port, started, with certificates made
 * in `dir` by a fresh CA: its own, and that of `ehr.test`, the one sender it allows.
 */
export async function startLoneListener(
  dir: string,
  opts: Pick<SyslogListenerOptions, 'submit' | 'counts'> &
    Partial<Omit<SyslogListenerOptions, 'submit' | 'counts'>>,
): Promise<{ listener: SyslogListener; ca: Issued; ehr: Issued }> {
  const ca = await makeCa(dir, 'ca')
  const server = await issue(dir, ca, 'syslog.test')
  const ehr = await issue(dir, ca, 'ehr.test')
  const listener = new SyslogListener({
    host: '127.0.0.1',
    port: 0,
    cert: server.cert,
    key: server.key,
    ca: ca.cert,
    allowedSubjects: ['ehr.test'],
    logger: silentLogger(),
    ...opts,
  })
  await listener.start()
  return { listener, ca, ehr }
}
