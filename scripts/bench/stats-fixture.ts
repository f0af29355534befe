// A statistics bundle as a running network makes it, built in one process for the benchmark
// (scripts/bench/stats.ts) and the verify tests: a genesis network.json of `members` members
// (real Ed25519, libp2p and BLS keys, proofs of possession), a threshold key among them dealt
// under the network id and generation 1, each hospital's `dkg-dealing` and `dkg-key` entries
// at seq 1 and 2 and its `counters` entry at the end of a feed of `feedSize` entries, one
// checkpoint cosigned (BLS aggregate) by a quorum over all the feeds, and the bundle with every
// hospital's anchor into it. `keyAnchors` are the key anchors a running combiner adds (every
// member's `dkg-key` entry and every qualified dealing); the bundle carries them only when
// `o.keyAnchors`. The other leaves of each feed are random hashes: an anchor only proves the
// inclusion of its entry, so their contents play no part.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import { randomBytes } from '@noble/hashes/utils.js'
import {
  blsProofOfPossession,
  blsPublicKey,
  blsSign,
  generateBlsSecretKey,
} from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointSigningMessage,
  defaultQuorum,
} from '../../node/core/checkpoint.ts'
import { makeEntry } from '../../node/core/entry.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { hashLeaf, MemoryTree } from '../../node/core/merkle/index.ts'
import {
  assembleStatsBundle,
  COUNTER_COUNT,
  combineDealings,
  combineShares,
  countersHex,
  type DkgParams,
  deal,
  defaultThreshold,
  encodeStatsAnchor,
  encryptCounters,
  type HospitalCounters,
  makeDecryptionShare,
  publicKeyOf,
  type StatsBundle,
  type StatsKey,
  statsContext,
  sumVectors,
} from '../../node/core/stats/index.ts'
import { Membership } from '../../node/core/trust/index.ts'

export interface StatsFixture {
  networkJson: string
  membership: Membership
  key: StatsKey
  secretShares: Map<number, Uint8Array>
  period: string
  origins: string[]
  bundle: StatsBundle
  /** Anchors of every member's dkg-dealing and dkg-key entry into the checkpoint. */
  keyAnchors: Uint8Array[]
}

/** A key among n members (every dealing honest) and each member's secret share. */
export function statsKeyOf(n: number, k = defaultThreshold(n), context = new Uint8Array(32)) {
  const params: DkgParams = { n, k, context }
  const dealers = Array.from({ length: n }, (_, i) => deal(params, i + 1))
  const key = combineDealings(
    params,
    dealers.map((d) => d.dealing),
  )
  const secretShares = new Map<number, Uint8Array>()
  for (let j = 1; j <= n; j++)
    secretShares.set(j, combineShares(dealers.map((d) => d.shares.get(j)!)))
  return { key, secretShares, dealings: dealers.map((d) => d.dealing) }
}

export function countsOf(h: number): number[] {
  return Array.from({ length: COUNTER_COUNT }, (_, l) => (h * 131 + l * 977) % 5000)
}

/** Every hospital is a member; `shareFrom` are the members that decrypt (1-based). */
export async function anchoredStatsFixture(o: {
  members: number
  period?: string
  feedSize?: number
  shareFrom?: number[]
  anchored?: boolean
  /** The bundle carries the key anchors too. */
  keyAnchors?: boolean
}): Promise<StatsFixture> {
  const period = o.period ?? '2026-11'
  const feedSize = o.feedSize ?? 4096
  const origins = Array.from(
    { length: o.members },
    (_, i) => `hospital-${String(i).padStart(2, '0')}`,
  )
  const bls = origins.map(() => generateBlsSecretKey())
  const members = await Promise.all(
    origins.map(async (name, i) => ({
      name,
      ed25519PublicKey: toHex(ed25519.getPublicKey(randomBytes(32))),
      peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
      blsPublicKey: toHex(blsPublicKey(bls[i]!)),
      blsProofOfPossession: toHex(blsProofOfPossession(bls[i]!)),
      addresses: [`/ip4/127.0.0.1/tcp/${40000 + i}`],
    })),
  )
  const networkJson = `${JSON.stringify({ members, vrfPublicKey: toHex(randomBytes(32)) }, null, 2)}\n`
  const membership = Membership.parse(networkJson)
  const { key, secretShares, dealings } = statsKeyOf(
    o.members,
    defaultThreshold(o.members),
    new TextEncoder().encode(`${membership.networkId}/1`),
  )
  const y = publicKeyOf(key)
  const seed = new Uint8Array(32).fill(9)
  const recorded = '2026-11-01T00:00:05.000Z'
  const blocks = origins.map((origin, i) => {
    const d = dealings[i]!
    const dealing = makeEntry(
      origin,
      1,
      undefined,
      'stats',
      {
        type: 'dkg-dealing',
        generation: 1,
        n: key.n,
        k: key.k,
        dealer: d.dealer,
        commitments: d.commitments.map(toHex),
        proof: toHex(d.proof),
      },
      recorded,
    )
    const keyEntry = makeEntry(
      origin,
      2,
      dealing.hash,
      'stats',
      {
        type: 'dkg-key',
        generation: 1,
        n: key.n,
        k: key.k,
        qualified: dealings.map((x) => x.dealer),
        commitments: key.commitments.map((c) => toHex(c.toBytes())),
      },
      recorded,
    )
    const ciphertexts = encryptCounters(y, seed, origin, period, countsOf(i))
    const entry = makeEntry(
      origin,
      feedSize,
      randomBytes(32),
      'stats',
      { type: 'counters', generation: 1, period, ciphertexts: countersHex(ciphertexts) },
      '2026-12-01T00:00:05.000Z',
    )
    const leaves: Uint8Array[] = Array.from({ length: feedSize }, () => randomBytes(32))
    leaves[0] = dealing.hash
    leaves[1] = keyEntry.hash
    leaves[feedSize - 1] = entry.hash
    const tree = new MemoryTree(leaves)
    return { origin, ciphertexts, entry, dealing, keyEntry, tree }
  })
  const checkpoint: Checkpoint = {
    networkId: fromHex(membership.networkId, 32)!,
    membership: { version: 0, hash: fromHex(membership.networkId, 32)! },
    timeMs: Date.UTC(2026, 11, 1, 0, 1),
    feeds: blocks.map((b) => ({
      origin: b.origin,
      treeSize: feedSize,
      root: b.tree.root(),
      indexRoot: hashLeaf(new TextEncoder().encode(b.origin)),
    })),
  }
  const message = checkpointSigningMessage(checkpoint)
  const quorum = defaultQuorum(o.members)
  const cosigned = aggregateCosignatures(
    checkpoint,
    new Map(Array.from({ length: quorum }, (_, i) => [i, blsSign(bls[i]!, message)])),
    o.members,
  )
  const hospitals: HospitalCounters[] = blocks.map((b) => ({
    origin: b.origin,
    ciphertexts: b.ciphertexts,
    anchor:
      o.anchored === false
        ? new Uint8Array(0)
        : encodeStatsAnchor({
            seq: feedSize,
            entryBytes: b.entry.bytes,
            proof: b.tree.inclusionProof(feedSize - 1),
            cosigned,
          }),
  }))
  const published = Array.from({ length: COUNTER_COUNT }, (_, l) => l)
  const sum = sumVectors(
    hospitals.map((h) => h.ciphertexts),
    COUNTER_COUNT,
  )
  const context = statsContext(period, key, origins, sum, published)
  const shareFrom = o.shareFrom ?? Array.from({ length: key.k }, (_, i) => i + 1)
  const shares = shareFrom.map((j) =>
    makeDecryptionShare(
      context,
      j,
      secretShares.get(j)!,
      sum.map((c) => c.c1),
    ),
  )
  const anchorOf = (tree: MemoryTree, seq: number, entryBytes: Uint8Array) =>
    encodeStatsAnchor({ seq, entryBytes, proof: tree.inclusionProof(seq - 1), cosigned })
  const keyAnchors = [
    ...blocks.map((b) => anchorOf(b.tree, 2, b.keyEntry.bytes)),
    ...blocks.map((b) => anchorOf(b.tree, 1, b.dealing.bytes)),
  ]
  const bundle = assembleStatsBundle({
    period,
    key,
    hospitals,
    published,
    shares,
    ...(o.keyAnchors ? { keyAnchors } : {}),
  })
  return { networkJson, membership, key, secretShares, period, origins, bundle, keyAnchors }
}
