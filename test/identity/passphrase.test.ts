import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initNodeDir, openNodeDir } from '../../node/identity/index.ts'
import { rejection, TEST_SCRYPT_N, useTempDirs } from './fixtures.ts'

const tempDir = useTempDirs()

async function newNode(passphrase: string) {
  const dir = await tempDir()
  const identity = await initNodeDir(dir, {
    name: 'hospital-a',
    passphrase,
    scryptN: TEST_SCRYPT_N,
  })
  return { dir, identity }
}

describe('passphrase-protected node folder', () => {
  it('opens with the right passphrase', async () => {
    const { dir, identity } = await newNode('correct horse battery staple')
    const node = await openNodeDir(dir, { passphrase: 'correct horse battery staple' })
    expect(node.identity).toEqual(identity)
    const again = await openNodeDir(dir, { passphrase: 'correct horse battery staple' })
    expect(again.storeKeys).toEqual(node.storeKeys)
    expect(node.storeKeys.valueKey).not.toEqual(node.storeKeys.indexKey)
  })

  it('says PASSPHRASE_WRONG for a wrong passphrase', async () => {
    const { dir } = await newNode('correct horse')
    await rejection(openNodeDir(dir, { passphrase: 'correct horsf' }), 'PASSPHRASE_WRONG')
    await rejection(openNodeDir(dir, { passphrase: 'Correct horse' }), 'PASSPHRASE_WRONG')
  })

  it('says PASSPHRASE_REQUIRED without one (an empty one counts as none)', async () => {
    const { dir } = await newNode('correct horse')
    await rejection(openNodeDir(dir), 'PASSPHRASE_REQUIRED')
    await rejection(openNodeDir(dir, { passphrase: '' }), 'PASSPHRASE_REQUIRED')
  })

  it('treats composed and decomposed Unicode as the same passphrase (NFC)', async () => {
    const composed = 'caf\u00e9 cr\u00e8me'
    const decomposed = 'cafe\u0301 cre\u0300me'
    const { dir } = await newNode(composed)
    await expect(openNodeDir(dir, { passphrase: decomposed })).resolves.toBeDefined()
  })

  it('refuses a salt changed on disk as a wrong passphrase', async () => {
    const { dir } = await newNode('pw')
    const path = join(dir, 'keys.enc')
    const header = JSON.parse(await readFile(path, 'utf8'))
    header.kdf.salt = '00'.repeat(16)
    await writeFile(path, JSON.stringify(header))
    await rejection(openNodeDir(dir, { passphrase: 'pw' }), 'PASSPHRASE_WRONG')
  })

  it('refuses an absurd scrypt cost on disk before running scrypt', async () => {
    const { dir } = await newNode('pw')
    const path = join(dir, 'keys.enc')
    const header = JSON.parse(await readFile(path, 'utf8'))
    header.kdf.N = 2 ** 30
    await writeFile(path, JSON.stringify(header))
    const err = await rejection(openNodeDir(dir, { passphrase: 'pw' }), 'KEY_FILE_INVALID')
    expect(err.details.field).toBe('kdf.N')
  })
})
