import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { NETWORK_FILE, NODE_FILES, openNodeDir, ProvenKeys } from '../../node/identity/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { EhrlogNode } from '../../node/node.ts'
import { initNetwork } from '../../scripts/in-process-network.ts'
import type { TEST_VRF_PUBLIC_KEY_HEX } from '../helpers/fixtures.ts'

// Real files in a temp folder, and in the last test a real node (LevelDB, libp2p on loopback).
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ehrlog-proven-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const KEY = new Uint8Array(32).fill(7)
const OTHER_KEY = new Uint8Array(32).fill(8)
const pair = (n: number) => ({
  blsPublicKey: n.toString(16).padStart(96, '0'),
  blsProofOfPossession: n.toString(16).padStart(192, 'a'),
})

describe('ProvenKeys', () => {
  it('remembers verified pairs across loads, under its key only', async () => {
    const fresh = await ProvenKeys.load(dir, KEY)
    expect(fresh.has(pair(1))).toBe(false)
    await fresh.remember([pair(1), pair(2)])
    const again = await ProvenKeys.load(dir, KEY)
    expect(again.has(pair(1))).toBe(true)
    expect(again.has(pair(2))).toBe(true)
    // The same key with another proof, or a proof moved to another key, is not proven.
    expect(again.has({ ...pair(1), blsProofOfPossession: pair(2).blsProofOfPossession })).toBe(
      false,
    )
    // A folder copied under another master secret proves nothing.
    expect((await ProvenKeys.load(dir, OTHER_KEY)).has(pair(1))).toBe(false)
  })

  it('keeps only the current pairs, and writes only when they change', async () => {
    const proven = await ProvenKeys.load(dir, KEY)
    await proven.remember([pair(1), pair(2)])
    const path = join(dir, NODE_FILES.provenKeys)
    const written = (await stat(path)).mtimeMs
    await proven.remember([pair(2), pair(1)])
    expect((await stat(path)).mtimeMs).toBe(written)
    await proven.remember([pair(3)])
    const reloaded = await ProvenKeys.load(dir, KEY)
    expect(reloaded.has(pair(3))).toBe(true)
    expect(reloaded.has(pair(1))).toBe(false)
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(2)
  })

  it.each([
    [
      'a changed tag',
      (text: string) => text.replace(/[0-9a-f](?=\n$)/, (c) => (c === '0' ? '1' : '0')),
    ],
    ['another header', (text: string) => text.replace('ehrlog-proven-bls-keys-v1', 'v0')],
    ['garbage', () => '\u0000\u0001 not a file of ours'],
  ])('treats %s as nothing proven', async (_, damage) => {
    await (await ProvenKeys.load(dir, KEY)).remember([pair(1)])
    const path = join(dir, NODE_FILES.provenKeys)
    await writeFile(path, damage(await readFile(path, 'utf8')))
    expect((await ProvenKeys.load(dir, KEY)).has(pair(1))).toBe(false)
  })
})

describe('a node start with proven keys', () => {
  it('skips only the proofs it verified before: a swapped proof still stops the start', async () => {
    const { dirs, membership } = await initNetwork(dir, 2)
    const nodeDir = dirs[0]!
    const path = join(nodeDir, NETWORK_FILE)
    const text = await readFile(path, 'utf8')
    // The file is a cache: a start that cannot write it still starts.
    const cache = join(nodeDir, NODE_FILES.provenKeys)
    await mkdir(cache)
    const blocked = new EhrlogNode({
      dir: nodeDir,
      logger: silentLogger(),
      checkpointIntervalMs: 0,
    })
    await blocked.start()
    await blocked.stop()
    await rm(cache, { recursive: true })
    const node = new EhrlogNode({ dir: nodeDir, logger: silentLogger(), checkpointIntervalMs: 0 })
    await node.start()
    await node.stop()
    // The start verified both proofs and recorded them under the node's own key.
    const { provenKeysKey } = await openNodeDir(nodeDir)
    const proven = await ProvenKeys.load(nodeDir, provenKeysKey)
    expect(membership.members.map((m) => proven.has(m))).toEqual([true, true])
    expect((await ProvenKeys.load(nodeDir, new Uint8Array(32))).has(membership.members[0]!)).toBe(
      false,
    )

    // Member 1 given member 0's proof: verified (never proven), refused with the field named.
    const network = JSON.parse(text) as {
      members: Array<Record<string, unknown>>
    }
    network.members[1]!.blsProofOfPossession = network.members[0]!.blsProofOfPossession
    await writeFile(path, JSON.stringify(network))
    const swapped = new EhrlogNode({
      dir: nodeDir,
      logger: silentLogger(),
      checkpointIntervalMs: 0,
    })
    const err = await swapped.start().then(
      () => undefined,
      (e: unknown) => e,
    )
    await swapped.stop().catch(() => {})
    expect(isEhrlogError(err, 'CONFIG_INVALID')).toBe(true)
    expect((err as Error).message).toContain('members.1.blsProofOfPossession')

    // And the same check through Membership: only a reader that says "proven" skips it.
    expect(() => Membership.parse(JSON.stringify(network))).toThrow(/possession/)
    expect(
      Membership.parse(JSON.stringify(network), 'x', { proven: () => true }).members,
    ).toHaveLength(2)
  })
})
