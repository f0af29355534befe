import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError, type ErrorCode } from '../node/core/errors.ts'
import { readRuntimeInfo } from '../node/identity/index.ts'
import { certificateOfNodeDir, fetchPinned } from './pinned-https.ts'

/** A running node's HTTP API, as the CLI reaches it. */
export interface NodeEndpoint {
  url: string
  token: string | undefined
  /** A local node's HTTPS certificate (config http.tls), pinned in place of its host name. */
  certificate?: string | undefined
}

/**
 * Where to send a command: --node URL (token from --token or EHRLOG_API_TOKEN, else the
 * folder's config), or the node running in --dir (found through its DIR/node.json).
 * Undefined: no node is running there; the command works on the folder offline.
 */
export async function findEndpoint(
  opts: { node?: string; dir?: string; token?: string },
  env: Readonly<Record<string, string | undefined>>,
): Promise<NodeEndpoint | undefined> {
  const token =
    opts.token ?? env.EHRLOG_API_TOKEN ?? (opts.dir ? await tokenOf(opts.dir) : undefined)
  if (opts.node) return { url: checkNodeUrl(opts.node).replace(/\/+$/, ''), token }
  if (!opts.dir)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'give --dir DIR (a node folder) or --node URL (a running node)',
    )
  const running = await readRuntimeInfo(opts.dir)
  return running
    ? { url: running.http, token, ...(await pinOf(opts.dir, running.http)) }
    : undefined
}

/** For a local node on HTTPS: its certificate, to pin (node.json's address is not its name). */
export async function pinOf(dir: string, url: string): Promise<{ certificate?: string }> {
  if (!url.startsWith('https:')) return {}
  const certificate = await certificateOfNodeDir(dir)
  return certificate ? { certificate } : {}
}

/** `--node` as given, or ARGUMENT_INVALID when it is not an http(s) URL (not UNAVAILABLE). */
export function checkNodeUrl(url: string): string {
  let protocol: string | undefined
  try {
    protocol = new URL(url).protocol
  } catch {
    protocol = undefined
  }
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `--node ${JSON.stringify(url.slice(0, 100))} is not an http(s) URL, e.g. http://127.0.0.1:7401`,
      { details: { field: '--node' } },
    )
  return url
}

async function tokenOf(dir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { apiToken?: string })
      .apiToken
  } catch {
    return undefined
  }
}

/** Calls the node; maps its JSON error body to an EhrlogError with the node's code. */
export async function callNode<T>(
  endpoint: NodeEndpoint,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  let response: Response
  try {
    const init = {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    }
    response = endpoint.certificate
      ? await fetchPinned(`${endpoint.url}${path}`, init, endpoint.certificate)
      : await fetch(`${endpoint.url}${path}`, init)
  } catch (cause) {
    throw new EhrlogError(
      'UNAVAILABLE',
      `cannot reach the node at ${endpoint.url}: ${(cause as Error).message}`,
      { cause },
    )
  }
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new EhrlogError(
      'UNAVAILABLE',
      `the node at ${endpoint.url} answered ${response.status} with a body that is not JSON`,
    )
  }
  if (!response.ok) {
    const error = (
      parsed as {
        error?: { code?: ErrorCode; message?: string; details?: Record<string, unknown> }
      }
    ).error
    throw new EhrlogError(
      error?.code ?? 'UNAVAILABLE',
      error?.message ?? `the node answered ${response.status}`,
      { details: error?.details ?? {} },
    )
  }
  return parsed as T
}
