import { createHash, createHmac, randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../client/main.ts'
import {
  ClientProvenKeys,
  PROVEN_KEYS_FILE,
  PROVEN_KEYS_SECRET_FILE,
} from '../../client/verify/proven-bls-keys.ts'
import { encodeStatsBundle } from '../../node/core/stats/index.ts'
import { anchoredStatsFixture } from '../../scripts/bench/stats-fixture.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

// The real `ehrlog stats verify --network` code path in this process (main, as bin/ehrlog.js
// runs it), real files in temp folders, real BLS proofs of possession.
const tempDir = useTempDirs()

async function cli(args: string[], configDir: string) {
  let out = ''
  let err = ''
  const code = await main(args, {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    env: {},
    configDir,
  })
  return { code, out, err }
}

const tagLines = async (configDir: string) =>
  (await readFile(join(configDir, PROVEN_KEYS_FILE), 'utf8')).trim().split('\n').slice(1)

describe('the CLI remembers verified BLS proofs of possession', () => {
  it('verifies once, skips the same bytes later, and re-checks a swapped proof or a foreign or forged entry', async () => {
    const f = await anchoredStatsFixture({ members: 3 })
    const dir = await tempDir()
    const network = join(dir, 'network.json')
    const bundle = join(dir, 'keyed.stats')
    await writeFile(network, f.networkJson)
    await writeFile(bundle, encodeStatsBundle({ ...f.bundle, keyAnchors: f.keyAnchors }))
    const args = ['stats', 'verify', bundle, '--network', network, '--period', f.period, '--json']

    // First run: every proof verified, then remembered under this folder's secret (0600).
    const config = join(await tempDir(), 'ehrlog')
    const first = await cli(args, config)
    expect(first.err).not.toMatch(/CONFIG_INVALID|INVALID/)
    expect(first.code).toBe(0)
    expect(JSON.parse(first.out).cosignaturesChecked).toBe(true)
    expect(await tagLines(config)).toHaveLength(3)
    expect((await stat(join(config, PROVEN_KEYS_SECRET_FILE))).mode & 0o777).toBe(0o600)
    const proven = await ClientProvenKeys.load(config)
    expect(f.membership.members.map((m) => proven!.has(m))).toEqual([true, true, true])
    // A second run with the same network.json: same answer, nothing rewritten.
    const written = (await stat(join(config, PROVEN_KEYS_FILE))).mtimeMs
    const second = await cli(args, config)
    expect(second.code).toBe(0)
    expect(second.out).toBe(first.out)
    expect((await stat(join(config, PROVEN_KEYS_FILE))).mtimeMs).toBe(written)

    // Member 1 given member 0's (valid, remembered) proof: that pair was never verified, so it
    // is checked and refused, with the cache full of the genuine pairs.
    const swapped = JSON.parse(f.networkJson) as { members: Array<Record<string, string>> }
    const m0 = swapped.members[0]!
    const m1 = swapped.members[1]!
    m1.blsProofOfPossession = m0.blsProofOfPossession!
    const bad = join(dir, 'swapped.json')
    await writeFile(bad, JSON.stringify(swapped))
    const badArgs = ['stats', 'verify', bundle, '--network', bad, '--period', f.period]
    const refused = await cli(badArgs, config)
    expect(refused.code).not.toBe(0)
    expect(refused.err).toMatch(/CONFIG_INVALID: .*members\.1\.blsProofOfPossession/)
    // The refusal recorded nothing.
    expect(await tagLines(config)).toHaveLength(3)

    // Entries vouching for the bad pair that were not made with this folder's secret: a tag
    // under another secret (a cache copied from elsewhere), a bare hash of key‖proof, and
    // garbage. Each is ignored: the pair is verified and still refused.
    const pairText = `${m1.blsPublicKey}:${m1.blsProofOfPossession}`
    const forged = [
      createHmac('sha256', randomBytes(32)).update(pairText).digest('hex'),
      createHash('sha256').update(pairText).digest('hex'),
      'not a tag',
    ]
    const cachePath = join(config, PROVEN_KEYS_FILE)
    const header = (await readFile(cachePath, 'utf8')).split('\n')[0]
    await writeFile(cachePath, [header, ...(await tagLines(config)), ...forged, ''].join('\n'))
    const stillRefused = await cli(badArgs, config)
    expect(stillRefused.code).not.toBe(0)
    expect(stillRefused.err).toMatch(/CONFIG_INVALID: .*members\.1\.blsProofOfPossession/)

    // A whole cache and secret from another folder: this folder's own secret stays, so the
    // foreign tags match nothing and the genuine network.json is verified in full again.
    const other = join(await tempDir(), 'ehrlog')
    expect((await cli(args, other)).code).toBe(0)
    const foreign = join(await tempDir(), 'ehrlog')
    expect((await cli(args, foreign)).code).toBe(0)
    await writeFile(join(foreign, PROVEN_KEYS_FILE), await readFile(join(other, PROVEN_KEYS_FILE)))
    const reloaded = await ClientProvenKeys.load(foreign)
    expect(f.membership.members.map((m) => reloaded!.has(m))).toEqual([false, false, false])
    expect((await cli(args, foreign)).code).toBe(0)
    expect(await tagLines(foreign)).toHaveLength(6)

    // A damaged secret: nothing matches (a new secret is not made over it), the run still passes.
    await writeFile(join(config, PROVEN_KEYS_SECRET_FILE), 'damaged\n')
    expect(await ClientProvenKeys.load(config)).toBeUndefined()
    expect((await cli(args, config)).code).toBe(0)
    expect((await cli(badArgs, config)).code).not.toBe(0)
  }, 120_000)
})
