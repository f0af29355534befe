import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Issued {
  certFile: string
  keyFile: string
  cert: string
  key: string
}

/**
 * A real CA and certificates it issues, made by the openssl command: the hospital's CA for
 * ATNA node authentication, the syslog listener's certificate, and the senders'.
 */
export async function makeCa(dir: string, name: string): Promise<Issued> {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  // biome-ignore format: one option and its value per line
  await run('openssl', [
    'req', '-x509', '-nodes',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign',
  ])
  return {
    certFile,
    keyFile,
    cert: await readFile(certFile, 'utf8'),
    key: await readFile(keyFile, 'utf8'),
  }
}

/** A leaf certificate with subject CN `cn`, for 127.0.0.1/localhost, issued by `ca`. */
export async function issue(dir: string, ca: Issued, cn: string): Promise<Issued> {
  const keyFile = join(dir, `${cn}.key`)
  const csrFile = join(dir, `${cn}.csr`)
  const certFile = join(dir, `${cn}.crt`)
  // biome-ignore format: one option and its value per line
  await run('openssl', [
    'req', '-new', '-nodes',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${cn}`,
  ])
  const ext = join(dir, `${cn}.ext`)
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  )
  // biome-ignore format: one option and its value per line
  await run('openssl', [
    'x509', '-req', '-in', csrFile,
    '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial',
    '-out', certFile, '-days', '2', '-extfile', ext,
  ])
  return {
    certFile,
    keyFile,
    cert: await readFile(certFile, 'utf8'),
    key: await readFile(keyFile, 'utf8'),
  }
}
