import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { readIndexKeyFile, readNodeIndexKey, writeIndexKey } from '../../node/identity/index.ts'
import { initNetwork } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { TEST_VRF_SECRET_KEY } from '../helpers/fixtures.ts'

/*
 * index.key: the network's VRF secret, the same in every member's folder, made by `network
 * init` and `network assemble`, checked against network.json's vrfPublicKey when a node opens.
 */
describe("the network's index key", () => {
  let root = ''
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true })
  })

  async function refusal(
    dir: string,
    membership: Membership,
  ): Promise<{ code: string; message: string }> {
    try {
      await readNodeIndexKey(dir, membership)
    } catch (err) {
      if (isEhrlogError(err)) return { code: err.code, message: err.message }
      throw err
    }
    throw new Error('the index key was accepted')
  }

  it('network init gives every member the same key, 0600, matching network.json', async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-index-key-'))
    const { dirs, membership } = await initNetwork(root)
    const keys = await Promise.all(dirs.map((d) => readNodeIndexKey(d, membership)))
    for (const key of keys) expect(Buffer.from(key).equals(Buffer.from(keys[0]!))).toBe(true)
    for (const d of dirs) expect((await stat(join(d, 'index.key'))).mode & 0o777).toBe(0o600)
  })

  it('a missing key, a key of another network and a key readable by others are refused, naming the file', async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-index-key-'))
    const { dirs, membership } = await initNetwork(root, 1)
    const dir = dirs[0]!
    const path = join(dir, 'index.key')
    const good = await readFile(path)

    await chmod(path, 0o644)
    let r = await refusal(dir, membership)
    expect(r.code).toBe('KEY_FILE_INVALID')
    expect(r.message).toMatch(/index\.key has mode 0644, want 0600/)

    await rm(path)
    await writeIndexKey(path, TEST_VRF_SECRET_KEY)
    r = await refusal(dir, membership)
    expect(r.code).toBe('KEY_FILE_INVALID')
    expect(r.message).toMatch(/index\.key is not the key of this network/)

    await rm(path)
    r = await refusal(dir, membership)
    expect(r.code).toBe('CONFIG_INVALID')
    expect(r.message).toMatch(/index\.key is missing: every member needs the network's index key/)

    await writeFile(path, good, { mode: 0o600 })
    await expect(readNodeIndexKey(dir, membership)).resolves.toHaveLength(32)
  })

  it('network assemble makes a key once and keeps it when re-assembling (same VRF public key)', async () => {
    root = await mkdtemp(join(tmpdir(), 'ehrlog-index-key-'))
    const { dirs } = await initNetwork(root, 2)
    const out = join(root, 'assembled', 'network.json')
    await mkdir(join(root, 'assembled'))
    const first = await runCli(['network', 'assemble', '--out', out, ...dirs])
    expect(first.code, first.err).toBe(0)
    expect(first.out).toMatch(/made the network's index key/)
    const key = await readIndexKeyFile(join(root, 'assembled', 'index.key'))
    const vrf = Membership.parse(await readFile(out, 'utf8')).keys.vrfPublicKey
    const again = await runCli(['network', 'assemble', '--out', out, ...dirs])
    expect(again.code, again.err).toBe(0)
    expect(again.out).toMatch(/kept the network's index key/)
    expect(await readIndexKeyFile(join(root, 'assembled', 'index.key'))).toEqual(key)
    expect(Membership.parse(await readFile(out, 'utf8')).keys.vrfPublicKey).toEqual(vrf)
  })
})
