import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { rootCertificates } from 'node:tls'
import { tlsFilesOf } from '../node/api/index.ts'

/**
 * The certificate a node folder's config names (`http.tls.cert`), PEM; undefined when the
 * node serves plain HTTP or the file cannot be read (then the request fails as it would).
 */
export async function certificateOfNodeDir(dir: string): Promise<string | undefined> {
  try {
    const config = JSON.parse(await readFile(`${dir}/config.json`, 'utf8')) as {
      http?: { tls?: { cert: string; key: string } }
    }
    const files = tlsFilesOf(config.http?.tls, dir)
    return files ? await readFile(files.certFile, 'utf8') : undefined
  } catch {
    return undefined
  }
}

/**
 * fetch() for the node in a local folder, reached at the address in its node.json (e.g.
 * https://127.0.0.1:8443), a name its certificate does not hold. The chain must verify (the
 * public roots, or the certificate itself when self-signed), and instead of the host name
 * the server must present exactly the certificate the folder's config names: a pin.
 */
export function fetchPinned(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
  certificatePem: string,
): Promise<Response> {
  const pinned = new X509Certificate(certificatePem).fingerprint256
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method,
        headers: init.headers,
        signal: init.signal,
        agent: false,
        ca: [...rootCertificates, certificatePem],
        checkServerIdentity: (_host, cert) =>
          cert.fingerprint256 === pinned
            ? undefined
            : new Error(
                `the node presents certificate ${cert.fingerprint256}, not the one its config names (${pinned})`,
              ),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const headers = new Headers()
          for (const [name, value] of Object.entries(res.headers))
            if (typeof value === 'string') headers.set(name, value)
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }))
        })
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })
}
