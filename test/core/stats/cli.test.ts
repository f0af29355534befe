import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import {
  COUNTER_COUNT,
  ciphertextToBytes,
  encodeStatsBundle,
  G,
  publicKeyOf,
} from '../../../node/core/stats/index.ts'
import { runCli } from '../../helpers/cli.ts'
import { useTempDirs } from '../../helpers/temp-dir.ts'
import { countsFor, makeBundle, runDkg } from './network.ts'

const tempDir = useTempDirs()

describe('ehrlog stats verify FILE', () => {
  const net = runDkg(3)
  const origins = ['hospital-a', 'hospital-b', 'hospital-c']
  const published = Array.from({ length: COUNTER_COUNT }, (_, l) => l).filter((l) => l !== 41)
  const bundle = makeBundle(net, origins, '2026-11', [1, 3], undefined, published)
  const key = toHex(publicKeyOf(net.key).toBytes())

  async function file(bytes: Uint8Array): Promise<string> {
    const path = join(await tempDir(), 'stats.bin')
    await writeFile(path, bytes)
    return path
  }

  it('prints the totals of a good bundle and exits 0', async () => {
    const path = await file(encodeStatsBundle(bundle))
    const r = await runCli([
      'stats',
      'verify',
      '--allow-unanchored',
      path,
      '--period',
      '2026-11',
      '--key',
      key,
    ])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^verified: period 2026-11, 3 hospitals .* members 1, 3$/m)
    const total0 = countsFor(0)[0]! + countsFor(1)[0]! + countsFor(2)[0]!
    expect(r.out).toMatch(new RegExp(`^events\\.create\\.clinical +${total0}$`, 'm'))
    expect(r.out).toMatch(/^refused-queries +withheld/m)
    // Without anchors into a cosigned checkpoint the CLI refuses unless told to accept it.
    const bare = await runCli(['stats', 'verify', path])
    expect(bare.code).not.toBe(0)
    expect(bare.err).toMatch(/INVALID_PROOF: .*unanchored: .*carry no anchor/)
    const json = await runCli(['stats', 'verify', '--allow-unanchored', path, '--json'])
    expect(JSON.parse(json.out).totals['events.create.clinical']).toBe(total0)
    expect(json.err).toContain('trusting the key inside the bundle')
  })

  it('exits non-zero naming a forged share, a wrong period, a malformed ciphertext, a wrong total', async () => {
    const forged = {
      ...bundle,
      shares: [
        bundle.shares[0]!,
        { ...bundle.shares[1]!, shares: bundle.shares[1]!.shares.map((d) => d.add(G)) },
      ],
    }
    const r1 = await runCli([
      'stats',
      'verify',
      '--allow-unanchored',
      await file(encodeStatsBundle(forged)),
    ])
    expect(r1.code).toBe(3)
    expect(r1.err).toMatch(/^INVALID_PROOF: .*stats\.bin: share-forged: .*member 3/)

    const good = await file(encodeStatsBundle(bundle))
    const r2 = await runCli(['stats', 'verify', '--allow-unanchored', good, '--period', '2026-10'])
    expect(r2.code).toBe(3)
    expect(r2.err).toMatch(/^INVALID_PROOF: .*wrong-period: .*2026-11, not 2026-10/)

    const bytes = encodeStatsBundle(bundle)
    const at = Buffer.from(bytes).indexOf(
      Buffer.from(ciphertextToBytes(bundle.hospitals[2]!.ciphertexts[9]!)),
    )
    bytes.fill(0xff, at + 32, at + 64)
    const r3 = await runCli(['stats', 'verify', '--allow-unanchored', await file(bytes)])
    expect(r3.code).toBe(2)
    expect(r3.err).toMatch(/^FILE_INVALID: .*malformed-ciphertext: .*hospital-c's ciphertext 9/)

    const lying = { ...bundle, totals: bundle.totals.map((t, l) => (l === 0 ? t! + 1 : t)) }
    const r4 = await runCli([
      'stats',
      'verify',
      '--allow-unanchored',
      await file(encodeStatsBundle(lying)),
    ])
    expect(r4.code).toBe(3)
    expect(r4.err).toMatch(
      /^INVALID_PROOF: .*total-mismatch: .*total 0 \(events\.create\.clinical\)/,
    )

    const r5 = await runCli(['stats', 'verify', '--allow-unanchored', good, '--key', 'zz'])
    expect(r5.code).toBe(2)
    expect(r5.err).toMatch(/^ARGUMENT_INVALID: --key/)
  })
})
