import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openNodeDir } from '../../node/identity/index.ts'
import { initNetwork, startNodes } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const tempDir = useTempDirs()

describe('a node refuses a network.json whose entry for it carries another key than its own', () => {
  for (const field of ['ed25519PublicKey', 'blsPublicKey'] as const) {
    it(`another ${field} in its own entry: CONFIG_INVALID at start, naming the field`, async () => {
      const { dirs } = await initNetwork(await tempDir(), 2)
      // The key of a hospital-a from another network (a re-initialized folder, a mixed-up
      // file): valid in itself, with its own BLS proof, but not this node's.
      const other = (await initNetwork(await tempDir(), 1)).membership.members[0]!
      const file = join(dirs[0]!, 'network.json')
      const network = JSON.parse(await readFile(file, 'utf8'))
      const a = network.members[0]
      a[field] = other[field]
      if (field === 'blsPublicKey') a.blsProofOfPossession = other.blsProofOfPossession
      await writeFile(file, JSON.stringify(network))
      await expect(startNodes([dirs[0]!])).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        details: { field: `members.hospital-a.${field}` },
      })
    })
  }
})

describe('config.json holds the API token: refused when others can read it, like master.key', () => {
  it('mode 0644 is CONFIG_INVALID naming the mode; 0600 opens', async () => {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const file = join(dirs[0]!, 'config.json')
    await chmod(file, 0o644)
    await expect(openNodeDir(dirs[0]!)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { field: 'mode', mode: '0644' },
    })
    await chmod(file, 0o600)
    await expect(openNodeDir(dirs[0]!)).resolves.toMatchObject({ config: { name: 'hospital-a' } })
  })
})
