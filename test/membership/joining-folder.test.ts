import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { readNodeFolder } from '../../node/node-folder.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * A hospital joining the network starts from the genesis network.json and index.key beside its
 * own keys: its folder is read as joining, not refused; a network.json that lists its name with
 * other keys is still refused.
 */
describe('a joining node folder', () => {
  const tempDir = useTempDirs()
  const logger = pino({ level: 'silent' })

  it('is read as joining when no version lists it, and refused when one lists other keys', async () => {
    const root = await tempDir()
    const init = await runCli(['network', 'init', '--dir', join(root, 'net'), '--nodes', '3'])
    expect(init.code, init.err).toBe(0)
    const member = await readNodeFolder(join(root, 'net', 'hospital-a'), undefined, logger)
    expect(member.joining).toBe(false)

    const dir = join(root, 'hospital-d')
    expect((await runCli(['init', '--dir', dir, '--name', 'hospital-d'])).code).toBe(0)
    for (const file of ['network.json', 'index.key'])
      await copyFile(join(root, 'net', 'hospital-a', file), join(dir, file))
    const joining = await readNodeFolder(dir, undefined, logger)
    expect(joining.joining).toBe(true)
    expect(joining.membership.byName('hospital-d')).toBeUndefined()
    expect(joining.membership.networkId).toBe(member.membership.networkId)

    // A network.json naming hospital-d with another member's keys: not this node, refused.
    const network = JSON.parse(await readFile(join(dir, 'network.json'), 'utf8'))
    network.members[2].name = 'hospital-d'
    await writeFile(join(dir, 'network.json'), JSON.stringify(network))
    let refused: unknown
    try {
      await readNodeFolder(dir, undefined, logger)
    } catch (err) {
      refused = err
    }
    expect(isEhrlogError(refused, 'CONFIG_INVALID')).toBe(true)
    expect((refused as Error).message).toMatch(/lists peerId .* for hospital-d/)
  }, 60_000)
})
