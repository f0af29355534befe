import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initNodeDir, openNodeDir } from '../../node/identity/index.ts'
import {
  INSTALLING_IDENTITY_FILE,
  installNextKeys,
  NEXT_IDENTITY_FILE,
  NEXT_KEYS_FILE,
} from '../../node/identity/install-keys.ts'
import { nextKeysReader, rotateNodeKey } from '../../node/identity/next-keys.ts'
import { rejection, useTempDirs } from './fixtures.ts'

const exists = (path: string) =>
  readFile(path).then(
    () => true,
    () => false,
  )

describe('installing rotated keys as keys.enc and identity.json (crash-safe)', () => {
  const tempDir = useTempDirs()

  it('a running node reads keys-next.enc again without the passphrase, and installs it whole', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, { name: 'hospital-a' })
    const reader = await nextKeysReader(dir)
    expect(await reader.read()).toBeUndefined()
    const next = await rotateNodeKey(dir, 'ed25519') // after the reader was made
    const read = (await reader.read())!
    expect(read.ed25519PublicKey).toBe(next.ed25519PublicKey)
    expect(await installNextKeys(dir, read.sealed, next)).toBe(true)
    const opened = await openNodeDir(dir)
    expect(opened.identity.ed25519PublicKey).toBe(next.ed25519PublicKey)
    for (const f of [NEXT_KEYS_FILE, NEXT_IDENTITY_FILE, INSTALLING_IDENTITY_FILE])
      expect(await exists(join(dir, f)), f).toBe(false)
    reader.close()
  })

  it('a libp2p rotation composes with an Ed25519 one on top; the install brings the new PeerId and key', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, { name: 'hospital-a' })
    const before = await openNodeDir(dir)
    const p2p = await rotateNodeKey(dir, 'libp2p')
    expect(p2p.peerId).not.toBe(before.identity.peerId)
    expect(p2p.ed25519PublicKey).toBe(before.identity.ed25519PublicKey)
    expect(p2p.blsPublicKey).toBe(before.identity.blsPublicKey)
    const both = await rotateNodeKey(dir, 'ed25519') // on top: the new libp2p key is kept
    expect(both.peerId).toBe(p2p.peerId)
    expect(both.ed25519PublicKey).not.toBe(before.identity.ed25519PublicKey)
    const nextIdentity = JSON.parse(await readFile(join(dir, NEXT_IDENTITY_FILE), 'utf8'))
    expect(nextIdentity).toMatchObject({
      peerId: both.peerId,
      ed25519PublicKey: both.ed25519PublicKey,
      blsPublicKey: before.identity.blsPublicKey,
    })
    // keys.enc is untouched until the install.
    expect((await openNodeDir(dir)).identity.peerId).toBe(before.identity.peerId)
    const reader = await nextKeysReader(dir)
    const read = (await reader.read())!
    reader.close()
    expect(read.peerId).toBe(both.peerId)
    expect(await installNextKeys(dir, read.sealed, read)).toBe(true)
    const opened = await openNodeDir(dir)
    expect(opened.identity.peerId).toBe(both.peerId)
    expect(opened.libp2pPrivateKey.publicKey.toString()).not.toBe(
      before.libp2pPrivateKey.publicKey.toString(),
    )
    expect(opened.identity.ed25519PublicKey).toBe(both.ed25519PublicKey)
    // identity.json holds the public identity fields only (no proof copied from the read keys).
    const installed = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8'))
    expect(installed).not.toHaveProperty('sealed')
  })

  it('keeps a rotation drawn meanwhile; a crash between keys.enc and identity.json is finished at open', async () => {
    const dir = await tempDir()
    await initNodeDir(dir, { name: 'hospital-a' })
    const reader = await nextKeysReader(dir)
    await rotateNodeKey(dir, 'ed25519')
    const first = (await reader.read())!
    const second = await rotateNodeKey(dir, 'bls') // keys-next.enc changed since it was read
    expect(await installNextKeys(dir, first.sealed, first)).toBe(false)
    expect((await openNodeDir(dir)).identity.blsPublicKey).not.toBe(second.blsPublicKey)

    // The crash: identity-install.json and keys.enc written, identity.json not yet.
    const now = (await reader.read())!
    const identity = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8'))
    await writeFile(
      join(dir, INSTALLING_IDENTITY_FILE),
      JSON.stringify({ ...identity, ...second }, null, 2),
    )
    const oldKeys = await readFile(join(dir, 'keys.enc'), 'utf8')
    await writeFile(join(dir, 'keys.enc'), now.sealed)
    const opened = await openNodeDir(dir)
    expect(opened.identity.blsPublicKey).toBe(second.blsPublicKey)
    expect(opened.identity.ed25519PublicKey).toBe(second.ed25519PublicKey)
    expect(JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8')).blsPublicKey).toBe(
      second.blsPublicKey,
    )
    expect(await exists(join(dir, INSTALLING_IDENTITY_FILE))).toBe(false)

    // Without that file, keys.enc that identity.json does not name is still refused.
    await writeFile(join(dir, 'keys.enc'), oldKeys)
    await rejection(openNodeDir(dir), 'KEY_FILE_INVALID')
    reader.close()
  })
})
