import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  blsProofOfPossession,
  blsPublicKey,
  blsSign,
  generateBlsSecretKey,
} from '../../node/core/bls.ts'
import { type CosignedCheckpoint, cosignedToJson } from '../../node/core/checkpoint.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import {
  MembershipHistory,
  membershipAnswerOf,
  proposalMessage,
} from '../../node/core/trust/index.ts'
import { initNetwork } from '../../scripts/in-process-network.ts'
import { cosignAtVersion, keysOfFolders, signChange } from '../helpers/membership-versions.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { CheckpointRefused, verifyCheckpoint } from './verify-checkpoint.ts'

const VERIFIER = join(import.meta.dirname, 'verify-checkpoint.ts')

function refusal(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return err instanceof CheckpointRefused ? err.code : `not a refusal: ${String(err)}`
  }
}

/*
 * The outside verifier (test/outside/verify-checkpoint.ts, written from docs/format.md) follows
 * the membership chain to the version a checkpoint names. The network is three real node
 * folders (`ehrlog network init`); the changes are signed with their Ed25519 keys and the
 * checkpoints cosigned with their BLS keys directly, since the running nodes cannot change
 * their membership yet (the node runtime is being built beside this).
 */
describe('an outside verifier follows the membership chain from docs/format.md', () => {
  const tempDir = useTempDirs()

  // Each verification pairs in plain-TypeScript BLS (~0.1 s a pairing on a quiet machine).
  it('verifies a checkpoint of version 2 (quorum 3, then a held BLS rotation) through the signed changes', {
    timeout: 180_000,
  }, async () => {
    const dir = await tempDir()
    const { dirs } = await initNetwork(dir)
    const networkText = await readFile(join(dir, 'network.json'), 'utf8')
    const keys = await keysOfFolders(dirs)
    const [a, b, c] = ['hospital-a', 'hospital-b', 'hospital-c'].map((n) => keys.get(n)!)
    const h0 = MembershipHistory.fromChain(JSON.parse(networkText), [])
    const quorum = signChange(h0, { type: 'quorum', quorum: 3 }, [a!, b!])
    const h1 = h0.extend(quorum)
    const fresh = generateBlsSecretKey()
    const rotate = signChange(
      h1,
      {
        type: 'rotate-bls',
        name: 'hospital-c',
        blsPublicKey: toHex(blsPublicKey(fresh)),
        blsProofOfPossession: toHex(blsProofOfPossession(fresh)),
        oldKey: 'held',
      },
      [c!, a!, b!],
    )
    rotate.oldKeySignature = toHex(blsSign(c!.bls, proposalMessage(rotate.proposal)))
    const h2 = h1.extend(rotate)
    const after = new Map(keys)
    after.set('hospital-c', { ...c!, bls: fresh })
    const base: CosignedCheckpoint = {
      checkpoint: {
        networkId: fromHex(h0.networkId, 32)!,
        membership: { version: 0, hash: fromHex(h0.networkId, 32)! },
        timeMs: 1_700_000_000_000,
        feeds: [],
      },
      signers: new Uint8Array(1),
      signature: new Uint8Array(96),
    }
    const v2 = cosignedToJson(cosignAtVersion(base, h2, 2, after))
    const changes = [quorum, rotate]

    const verdict = verifyCheckpoint(networkText, v2, changes)
    expect(verdict).toMatchObject({ version: 2, quorum: 3, signers: [0, 1, 2] })

    // Without the changes, or with them tampered, the checkpoint is refused naming why.
    expect(refusal(() => verifyCheckpoint(networkText, v2))).toBe('MEMBERSHIP_UNKNOWN')
    expect(refusal(() => verifyCheckpoint(networkText, v2, [rotate, quorum]))).toBe(
      'CHANGE_OUT_OF_ORDER',
    )
    const dropped = { ...rotate, signatures: rotate.signatures.slice(0, 2) }
    expect(refusal(() => verifyCheckpoint(networkText, v2, [quorum, dropped]))).toBe(
      'QUORUM_NOT_MET',
    )
    const { oldKeySignature: _, ...unheld } = rotate
    expect(refusal(() => verifyCheckpoint(networkText, v2, [quorum, unheld]))).toBe(
      'INVALID_SIGNATURE',
    )
    // Two of three is below version 2's quorum of 3; hospital-c's old key no longer counts.
    const two = cosignedToJson(cosignAtVersion(base, h2, 2, after, ['hospital-a', 'hospital-b']))
    expect(refusal(() => verifyCheckpoint(networkText, two, changes))).toBe('INVALID_SIGNATURE')
    const oldKey = cosignedToJson(cosignAtVersion(base, h2, 2, keys))
    expect(refusal(() => verifyCheckpoint(networkText, oldKey, changes))).toBe('INVALID_SIGNATURE')
    // A checkpoint of version 0 still verifies under the genesis keys, changes given or not.
    const v0 = cosignedToJson(cosignAtVersion(base, h2, 0, keys, ['hospital-a', 'hospital-c']))
    expect(verifyCheckpoint(networkText, v0, changes)).toMatchObject({ version: 0, quorum: 2 })

    // As a command, with what GET /api/v1/membership answers.
    await writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ cosigned: v2 }))
    await writeFile(join(dir, 'changes.json'), JSON.stringify(membershipAnswerOf(h2, 0)))
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        VERIFIER,
        join(dir, 'network.json'),
        join(dir, 'checkpoint.json'),
        join(dir, 'changes.json'),
      ],
      { timeout: 90_000 },
    )
    expect(JSON.parse(stdout)).toMatchObject({ version: 2, signers: [0, 1, 2] })
  })
})
