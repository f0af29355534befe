import { sign, verify } from 'node:crypto'
import { chmod, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { blsPublicKey, blsSign, blsVerify } from '../../node/core/bls.ts'
import { bytesEqual, fromHex, toHex } from '../../node/core/hex.ts'
import { ed25519PublicKey } from '../../node/core/tree-head.ts'
import { initNodeDir, openNodeDir } from '../../node/identity/index.ts'
import { rejection, snapshot, useTempDirs } from './fixtures.ts'

const tempDir = useTempDirs()

async function newNode(name = 'hospital-a') {
  const dir = await tempDir()
  const identity = await initNodeDir(dir, { name })
  return { dir, identity }
}

const masterKeyPath = (dir: string) => join(dir, 'master.key')
const readMaster = async (dir: string) =>
  fromHex((await readFile(masterKeyPath(dir), 'utf8')).split('\n')[1] ?? '', 32) as Uint8Array

describe('openNodeDir', () => {
  it('round-trips the keys published in identity.json', async () => {
    const { dir, identity } = await newNode()
    const node = await openNodeDir(dir)
    expect(node.dir).toBe(dir)
    expect(node.identity).toEqual(identity)
    expect(node.config.name).toBe('hospital-a')

    const message = Buffer.from('tree head')
    const signature = sign(null, message, node.signingKey)
    const published = fromHex(identity.ed25519PublicKey, 32) as Uint8Array
    expect(verify(null, message, ed25519PublicKey(published), signature)).toBe(true)
    expect(toHex(node.signingPublicKey)).toBe(identity.ed25519PublicKey)

    expect(peerIdFromPrivateKey(node.libp2pPrivateKey).toString()).toBe(identity.peerId)
    const libp2pSignature = await node.libp2pPrivateKey.sign(message)
    expect(await node.libp2pPrivateKey.publicKey.verify(message, libp2pSignature)).toBe(true)

    expect(toHex(blsPublicKey(node.blsSecretKey))).toBe(identity.blsPublicKey)
    const blsKey = fromHex(identity.blsPublicKey, 48) as Uint8Array
    expect(blsVerify(blsKey, message, blsSign(node.blsSecretKey, message))).toBe(true)
  })

  it('keeps the private keys out of the files in clear', async () => {
    const { dir } = await newNode()
    const node = await openNodeDir(dir)
    const all = Object.values(await snapshot(dir))
      .map((b64) => Buffer.from(b64, 'base64').toString('utf8'))
      .join('\n')
    expect(all).not.toContain(toHex(node.blsSecretKey))
    expect(all).not.toContain(toHex(node.storeKeys.valueKey))
  })

  it('derives two distinct, stable store keys, neither equal to the master secret', async () => {
    const { dir } = await newNode()
    const node = await openNodeDir(dir)
    const master = await readMaster(dir)
    const { valueKey, indexKey } = node.storeKeys
    expect(valueKey.byteLength).toBe(32)
    expect(indexKey.byteLength).toBe(32)
    expect(bytesEqual(valueKey, indexKey)).toBe(false)
    expect(bytesEqual(valueKey, master)).toBe(false)
    expect(bytesEqual(indexKey, master)).toBe(false)
    const again = await openNodeDir(dir)
    expect(again.storeKeys).toEqual(node.storeKeys)
    const other = await newNode()
    expect((await openNodeDir(other.dir)).storeKeys.valueKey).not.toEqual(valueKey)
  })

  it('ignores a passphrase in master.key mode', async () => {
    const { dir, identity } = await newNode()
    expect((await openNodeDir(dir, { passphrase: 'unused' })).identity).toEqual(identity)
  })

  it('says NOT_INITIALIZED for an empty folder or one without keys.enc', async () => {
    const empty = await tempDir()
    await rejection(openNodeDir(empty), 'NOT_INITIALIZED')
    await rejection(openNodeDir(join(empty, 'missing')), 'NOT_INITIALIZED')
    const { dir } = await newNode()
    await rm(join(dir, 'keys.enc'))
    await rejection(openNodeDir(dir), 'NOT_INITIALIZED')
  })
})

describe('openNodeDir with a bad master.key', () => {
  const cases: Array<[string, (text: string) => string | Buffer]> = [
    ['truncated', (text) => text.slice(0, 50)],
    ['empty', () => ''],
    ['garbage', () => 'not a key at all\n'],
    ['binary garbage', () => Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02])],
    ['a wrong header', (text) => text.replace('v1', 'v2')],
    [
      'upper-case hex',
      (text) => text.toUpperCase().replace('EHRLOG-MASTER-KEY-V1', 'ehrlog-master-key-v1'),
    ],
    ['an extra line', (text) => `${text}more\n`],
    ['a hex digit changed', (text) => flipHexDigit(text)],
    ['a byte flipped', (text) => flipByte(text)],
    ['another key', () => `ehrlog-master-key-v1\n${'ab'.repeat(32)}\n`],
  ]
  for (const [what, corrupt] of cases) {
    it(`refuses ${what} as KEY_FILE_INVALID`, async () => {
      const { dir } = await newNode()
      const text = await readFile(masterKeyPath(dir), 'utf8')
      await writeFile(masterKeyPath(dir), corrupt(text), { mode: 0o600 })
      const err = await rejection(openNodeDir(dir), 'KEY_FILE_INVALID')
      expect(err.message).toMatch(/master\.key|keys\.enc/)
      // The secret must not leak into the message.
      expect(err.message).not.toContain(text.split('\n')[1])
    })
  }

  it('refuses a master.key readable by others', async () => {
    const { dir } = await newNode()
    await chmod(masterKeyPath(dir), 0o644)
    const err = await rejection(openNodeDir(dir), 'KEY_FILE_INVALID')
    expect(err.message).toContain('master.key has mode 0644, want 0600')
  })

  it('refuses a missing master.key', async () => {
    const { dir } = await newNode()
    await rm(masterKeyPath(dir))
    const err = await rejection(openNodeDir(dir), 'KEY_FILE_INVALID')
    expect(err.message).toContain('master.key is missing')
  })

  it('refuses the master.key of another node', async () => {
    const a = await newNode()
    const b = await newNode()
    await writeFile(masterKeyPath(a.dir), await readFile(masterKeyPath(b.dir)), { mode: 0o600 })
    const err = await rejection(openNodeDir(a.dir), 'KEY_FILE_INVALID')
    expect(err.message).toContain('keys.enc was not sealed with this master.key')
  })
})

describe('openNodeDir with a bad keys.enc or identity.json', () => {
  const cases: Array<[string, (text: string) => string]> = [
    ['not JSON', (text) => text.slice(0, 20)],
    ['an unknown format', (text) => text.replace('ehrlog-keys-v1', 'ehrlog-keys-v9')],
    ['an unknown field', (text) => text.replace('{', '{"extra": 1,')],
    ['a short nonce', (text) => text.replace(/"nonce": "[0-9a-f]{4}/, '"nonce": "')],
  ]
  for (const [what, corrupt] of cases) {
    it(`refuses keys.enc with ${what}, naming keys.enc`, async () => {
      const { dir } = await newNode()
      const path = join(dir, 'keys.enc')
      await writeFile(path, corrupt(await readFile(path, 'utf8')))
      const err = await rejection(openNodeDir(dir), 'KEY_FILE_INVALID')
      expect(err.message).toContain('keys.enc')
    })
  }

  it('refuses a modified ciphertext', async () => {
    const { dir } = await newNode()
    const path = join(dir, 'keys.enc')
    const header = JSON.parse(await readFile(path, 'utf8'))
    const sealed = Buffer.from(header.ciphertext, 'base64')
    sealed[5] = (sealed[5] ?? 0) ^ 1
    header.ciphertext = sealed.toString('base64')
    await writeFile(path, JSON.stringify(header))
    await rejection(openNodeDir(dir), 'KEY_FILE_INVALID')
  })

  it('refuses an identity.json whose key is not the node key', async () => {
    const a = await newNode()
    const b = await newNode()
    const path = join(a.dir, 'identity.json')
    await writeFile(path, JSON.stringify({ ...a.identity, blsPublicKey: b.identity.blsPublicKey }))
    const err = await rejection(openNodeDir(a.dir), 'KEY_FILE_INVALID')
    expect(err.details.field).toBe('blsPublicKey')
  })
})

describe('openNodeDir with a bad config.json', () => {
  async function withConfig(edit: (config: Record<string, unknown>) => unknown) {
    const { dir } = await newNode()
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    await writeFile(path, JSON.stringify(edit(config)))
    return rejection(openNodeDir(dir), 'CONFIG_INVALID')
  }

  it('names the invalid field', async () => {
    const port = await withConfig((c) => ({ ...c, http: { host: '127.0.0.1', port: -1 } }))
    expect(port.details.field).toBe('http.port')
    expect(port.message).toContain('http.port')
    const listen = await withConfig((c) => ({ ...c, listen: ['nonsense'] }))
    expect(listen.details.field).toBe('listen.0')
    const admins = await withConfig((c) => ({ ...c, alerts: { admins: ['not-an-email'] } }))
    expect(admins.details.field).toBe('alerts.admins.0')
    const token = await withConfig((c) => ({ ...c, apiToken: 'short' }))
    expect(token.details.field).toBe('apiToken')
  })

  it('rejects unknown keys, naming them', async () => {
    const err = await withConfig((c) => ({ ...c, colour: 'blue' }))
    expect(err.details.field).toBe('colour')
    expect(err.message).toContain('colour is not a known field')
    const nested = await withConfig((c) => ({
      ...c,
      http: { host: '127.0.0.1', port: 0, tls: true },
    }))
    expect(nested.details.field).toBe('http.tls')
  })

  it('rejects invalid JSON and a name that differs from identity.json', async () => {
    const { dir } = await newNode()
    await writeFile(join(dir, 'config.json'), '{ name: ')
    await rejection(openNodeDir(dir), 'CONFIG_INVALID')
    const renamed = await withConfig((c) => ({ ...c, name: 'hospital-z' }))
    expect(renamed.details.field).toBe('name')
  })
})

function flipHexDigit(text: string): string {
  const i = 'ehrlog-master-key-v1\n'.length + 10
  const digit = text[i] === '0' ? '1' : '0'
  return text.slice(0, i) + digit + text.slice(i + 1)
}

function flipByte(text: string): string {
  const bytes = Buffer.from(text, 'utf8')
  const i = 'ehrlog-master-key-v1\n'.length + 3
  bytes[i] = (bytes[i] ?? 0) ^ 0x40
  return bytes.toString('latin1')
}
