import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface TestCertificate {
  certFile: string
  keyFile: string
  certPem: string
  /** SHA-256 fingerprint as X509Certificate and getPeerCertificate() print it. */
  fingerprint256: string
}

/**
 * A real self-signed P-256 certificate for 127.0.0.1 and localhost, made by the openssl
 * command (node:crypto parses X.509 but cannot issue it). Files `<name>.crt`/`<name>.key`.
 */
export async function makeCertificate(dir: string, name = 'server'): Promise<TestCertificate> {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  // biome-ignore format: one option and its value per line
  await promisify(execFile)('openssl', [
    'req', '-x509', '-nodes',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', `/CN=${name}.test`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ])
  const certPem = await readFile(certFile, 'utf8')
  return { certFile, keyFile, certPem, fingerprint256: new X509Certificate(certPem).fingerprint256 }
}

export interface TlsAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** Fingerprint of the certificate the server presented. */
  fingerprint256: string
}

/**
 * One request over a fresh TLS connection (no keep-alive: each call sees the certificate the
 * server serves now) that trusts only `ca`, as an EHR or a browser would with that CA.
 */
export function httpsRequest(
  url: string,
  ca: string,
  opts: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<TlsAnswer> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca,
        agent: false,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        const { fingerprint256 } = (res.socket as import('node:tls').TLSSocket).getPeerCertificate()
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint256,
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
