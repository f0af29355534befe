import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { createSecureContext } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { EhrlogError } from '../core/errors.ts'

/** Where the HTTPS certificate chain and private key are (PEM files, absolute paths). */
export interface TlsFiles {
  certFile: string
  keyFile: string
}

/** The PEM text of a certificate chain and its key, checked to belong together. */
export interface TlsPem {
  cert: string
  key: string
}

/**
 * One year, the value browsers' preload lists ask for. Without includeSubDomains: other hosts
 * of the hospital's domain may well still be plain HTTP.
 */
export const HSTS_VALUE = 'max-age=31536000'

/** config.json `http.tls` ({cert, key}, relative to the node folder or absolute) as paths. */
export function tlsFilesOf(
  tls: { cert: string; key: string } | undefined,
  dir: string,
): TlsFiles | undefined {
  if (!tls) return undefined
  const path = (p: string) => (isAbsolute(p) ? p : join(dir, p))
  return { certFile: path(tls.cert), keyFile: path(tls.key) }
}

/**
 * Reads both files and builds a TLS context from them, so a missing file, a malformed PEM or
 * a key that does not match the certificate is CONFIG_INVALID naming the file, before a
 * server starts or swaps its certificate.
 */
export async function loadTlsPem(files: TlsFiles): Promise<TlsPem> {
  const read = async (path: string, field: string) => {
    try {
      return await readFile(path, 'utf8')
    } catch (cause) {
      throw new EhrlogError(
        'CONFIG_INVALID',
        `cannot read ${field} ${path}: ${(cause as Error).message}`,
        { cause, details: { field, path } },
      )
    }
  }
  const pem = {
    cert: await read(files.certFile, 'http.tls.cert'),
    key: await read(files.keyFile, 'http.tls.key'),
  }
  try {
    createSecureContext(pem)
    // OpenSSL drops a key that does not match the certificate without a word (the server
    // would then fail every handshake): check the pair here. The first PEM is the leaf.
    if (!new X509Certificate(pem.cert).checkPrivateKey(createPrivateKey(pem.key)))
      throw new Error('the private key does not belong to the certificate')
  } catch (cause) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `http.tls: ${files.certFile} and ${files.keyFile} are not a PEM certificate and its private key: ${(cause as Error).message}`,
      { cause, details: { field: 'http.tls', cert: files.certFile, key: files.keyFile } },
    )
  }
  return pem
}

/**
 * Strict-Transport-Security on every answer to a request that came over HTTPS (here, or at a
 * trusted proxy that says so): a browser then never again sends the session cookie in clear
 * to this host, even when a link or a typed address says http:// (RFC 6797).
 */
export function addHsts(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.protocol === 'https') reply.header('Strict-Transport-Security', HSTS_VALUE)
    return payload
  })
}
