import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { parseEvent } from '../../node/core/event.ts'
import { makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { filesUnder, useTempDirs } from '../helpers/temp-dir.ts'

describe('privacy at rest', () => {
  const tempDir = useTempDirs()

  it('no patient id, actor id, name or note appears in any file of the store', async () => {
    const path = await tempDir()
    const signer = makeSigner('hospital-a')
    const store = openStore(path, makeStoreKeys(), [signer])
    await store.open()
    const secrets = [
      'MRN-7731-SECRET',
      'Anish Kulkarni',
      'dr-house-4471',
      'suspected tuberculosis follow-up',
    ]
    const events = Array.from({ length: 500 }, (_, i) =>
      parseEvent({
        patientId: secrets[0],
        patientName: secrets[1],
        actorId: secrets[2],
        action: 'read',
        resource: 'user_reports',
        time: new Date(Date.UTC(2023, 11, 4) + i).toISOString(),
        notes: `${secrets[3]} #${i}`,
      }),
    )
    for (let i = 0; i < 5; i++)
      await store.appendEvents(signer, events.slice(i * 100, (i + 1) * 100))
    expect(await store.findByPatient(secrets[0]!)).toHaveLength(500) // the index works...
    await store.close()
    const files = await filesUnder(path)
    expect(files.length).toBeGreaterThan(2)
    let bytes = 0
    for (const file of files) {
      const content = await readFile(file)
      bytes += content.length
      for (const secret of secrets) {
        // ...yet neither the text nor its UTF-16 or hex forms are on disk.
        for (const needle of [
          Buffer.from(secret),
          Buffer.from(secret, 'utf16le'),
          Buffer.from(Buffer.from(secret).toString('hex')),
        ]) {
          expect(content.includes(needle), `${secret} found in ${file}`).toBe(false)
        }
      }
    }
    expect(bytes).toBeGreaterThan(500 * 300) // the entries really are in these files
  })
})
