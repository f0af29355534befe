import { beforeAll, describe, expect, it } from 'vitest'
import { blsSign } from '../../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointSigningMessage,
  verifyCosignedCheckpoint,
} from '../../../node/core/checkpoint.ts'
import { fromHex } from '../../../node/core/hex.ts'
import { checkpointKeysOf, MembershipHistory } from '../../../node/core/trust/index.ts'
import { codeOf, makeTestNetwork, type TestNetwork } from './membership-test-network.ts'

let t: TestNetwork
let keys: TestNetwork['keys']
let network: TestNetwork['network']

beforeAll(async () => {
  t = await makeTestNetwork()
  keys = t.keys
  network = t.network
})

/** A checkpoint cosigned by `signers` (indexes) of `history`'s version `n`. */
function cosignedAt(history: MembershipHistory, n: number, signers: number[]) {
  const m = history.at(n)!
  const checkpoint: Checkpoint = {
    networkId: fromHex(m.networkId, 32)!,
    membership: { version: n, hash: fromHex(m.versionHash, 32)! },
    timeMs: 1_000 + n,
    feeds: [],
  }
  const message = checkpointSigningMessage(checkpoint)
  const sigs = new Map(signers.map((i) => [i, blsSign(keys.get(m.members[i]!.name)!.bls, message)]))
  return aggregateCosignatures(checkpoint, sigs, m.members.length)
}

describe('membership history: the keys of the version a checkpoint names', () => {
  it('verifies a checkpoint of each version under that version’s keys only', async () => {
    const add = await t.addFourth()
    const h0 = MembershipHistory.fromChain(network, [])
    const h1 = h0.extend(add)
    expect(h1.latest).toBe(1)
    expect(h1.networkId).toBe(h0.networkId)
    expect(h1.current.members.map((m) => m.name)).toContain('hospital-d')
    expect(h1.current.quorum).toBe(3) // a majority of 4

    const old = cosignedAt(h1, 0, [0, 2])
    const now = cosignedAt(h1, 1, [0, 1, 3])
    // A checkpoint of version 0 still verifies under version 0's keys after the change.
    expect(
      verifyCosignedCheckpoint(old, checkpointKeysOf(h1.keysFor(old.checkpoint.membership))),
    ).toEqual([0, 2])
    expect(
      verifyCosignedCheckpoint(now, checkpointKeysOf(h1.keysFor(now.checkpoint.membership))),
    ).toEqual([0, 1, 3])
    // Checked against the other version's keys, each is refused and the version named.
    expect(codeOf(() => verifyCosignedCheckpoint(now, checkpointKeysOf(h1.at(0)!.keys)))).toBe(
      'MEMBERSHIP_UNKNOWN',
    )
    // Two of four is below version 1's quorum.
    expect(
      codeOf(() =>
        verifyCosignedCheckpoint(cosignedAt(h1, 1, [0, 1]), checkpointKeysOf(h1.current.keys)),
      ),
    ).toBe('INVALID_SIGNATURE')
    // The same history rebuilt from the chain gives the same versions.
    const again = MembershipHistory.fromChain(network, [add])
    expect(again.versions.map((v) => v.hash)).toEqual(h1.versions.map((v) => v.hash))
  })

  it('refuses a version it has not reached, or another chain’s at that number', async () => {
    const h0 = MembershipHistory.fromChain(network, [])
    const add = await t.addFourth()
    const h1 = h0.extend(add)
    const ref = { version: 1, hash: h1.versions[1]!.hash }
    expect(codeOf(() => h0.keysFor(ref))).toBe('MEMBERSHIP_UNKNOWN')
    expect(codeOf(() => h1.keysFor({ version: 1, hash: '00'.repeat(32) }))).toBe(
      'MEMBERSHIP_UNKNOWN',
    )
    // extend refuses what applyProposal refuses, and leaves the history as it was.
    expect(codeOf(() => h1.extend(add))).toBe('CHANGE_REPLAYED')
    expect(h1.latest).toBe(1)
  })
})
