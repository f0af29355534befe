import { createServer } from 'node:net'
import { EhrlogError } from '../core/errors.ts'

/**
 * Why another node cannot dial `address`, or undefined when it can. Port 0 ("any free port",
 * chosen anew at every start) and the unspecified address (0.0.0.0, ::) are fine to listen on,
 * but nobody can dial them: the others need the address as they will reach this machine.
 */
export function undialableReason(address: string): string | undefined {
  if (/\/(tcp|udp)\/0(\/|$)/.test(address))
    return 'port 0 is chosen anew at every start, so no other node can know it'
  if (/^\/ip4\/0\.0\.0\.0(\/|$)/.test(address) || /^\/ip6\/::(\/|$)/.test(address))
    return 'a wildcard address means "every interface here"; it names no machine to dial'
  return undefined
}

/** The addresses of `addresses` another node can dial (undialableReason is undefined). */
export function dialableAddresses(addresses: readonly string[]): string[] {
  return addresses.filter((address) => undialableReason(address) === undefined)
}

/** True for loopback addresses: dialable, but only from this machine. */
export function isLoopback(address: string): boolean {
  return /^\/ip4\/127\.|^\/ip6\/::1(\/|$)|^\/dns[46]?\/localhost(\/|$)/.test(address)
}

/**
 * The addresses identity.json publishes: the announced ones when given (each must be
 * dialable), else the dialable listen addresses. ARGUMENT_INVALID, saying what to add, when
 * that leaves none: a node nobody can dial would sit in network.json and never connect.
 */
export function publishedAddresses(
  listen: readonly string[],
  announce: readonly string[],
): string[] {
  announce.forEach((address, i) => {
    const problem = undialableReason(address)
    if (problem)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `--announce ${address}: ${problem}; announce the address others dial, e.g. /ip4/203.0.113.7/tcp/7400 or /dns4/ehrlog.hospital-a.example/tcp/7400`,
        { details: { field: `announce.${i}`, got: address } },
      )
  })
  if (announce.length > 0) return [...announce]
  const published = dialableAddresses(listen)
  if (published.length > 0) return published
  const first = listen[0] ?? ''
  const port = /\/tcp\/(\d+)/.exec(first)?.[1]
  const suggestedPort = port && port !== '0' ? port : '7400'
  throw new EhrlogError(
    'ARGUMENT_INVALID',
    `no listen address other nodes can dial (${listen.join(', ')}: ${undialableReason(first)}); ` +
      `add --announce /ip4/<this machine's public IP>/tcp/${suggestedPort} (or /dns4/<its DNS name>/tcp/${suggestedPort})` +
      (suggestedPort === port
        ? ''
        : ` and listen on that fixed port, e.g. --listen /ip4/0.0.0.0/tcp/${suggestedPort}`),
    { details: { field: 'listen', got: listen } },
  )
}

/**
 * A TCP port on `host` that is free now: the default listen address of `ehrlog init`, fixed in
 * config.json so that identity.json can name it. Another process may take it before the node
 * starts; the node then fails to start with the address in its message.
 */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
