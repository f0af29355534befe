import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initNetwork } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const tempDir = useTempDirs()

describe('CLI arguments that are wrong say so (ARGUMENT_INVALID, exit 2), not INTERNAL or UNAVAILABLE', () => {
  it('verify --dir FILE, log --patient "", append --node notaurl', async () => {
    const root = await tempDir()
    const file = join(root, 'not-a-folder')
    await writeFile(file, 'x')
    const verify = await runCli(['verify', '--dir', file])
    expect(verify.code).toBe(2)
    expect(verify.err).toMatch(/^ARGUMENT_INVALID: --dir .* is a file, not a node folder/)

    const { dirs } = await initNetwork(await tempDir(), 1)
    const log = await runCli(['log', '--dir', dirs[0]!, '--patient', ''])
    expect(log.code).toBe(2)
    expect(log.err).toMatch(/^ARGUMENT_INVALID: --patient must not be empty/)
    expect(log.out).toBe('')

    const append = await runCli([
      'append',
      '--node',
      'notaurl',
      '--patient',
      '1',
      '--actor',
      '2',
      '--action',
      'read',
      '--resource',
      'r',
    ])
    expect(append.code).toBe(2)
    expect(append.err).toMatch(/^ARGUMENT_INVALID: --node "notaurl" is not an http\(s\) URL/)
  })
})
