/**
 * A verifier of cosigned checkpoints written from docs/format.md alone ("Network id", "BLS
 * keys, signatures and proofs of possession", "Cosigned checkpoints", "Membership changes"),
 * as an outsider would: it imports nothing from ehrlog, only @noble/curves, node:crypto and
 * its own chain follower (follow-membership.ts, same rule). Its test runs it against a
 * checkpoint cosigned by three real nodes, and one of a later membership version reached
 * through signed changes; if the document and the code ever part, this file (which follows
 * the document) stops accepting what the nodes make.
 *
 *   node --import tsx test/outside/verify-checkpoint.ts network.json checkpoint.json [changes.json]
 *
 * (checkpoint.json: the cosigned checkpoint's JSON form, or `GET /api/v1/checkpoint`'s answer;
 * changes.json: `GET /api/v1/membership`'s answer, or a list of signed changes from genesis.)
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { ChainRefused, followMembership } from './follow-membership.ts'

const SIGNATURE_DST = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_'
const POP_DST = 'BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_'
const CHECKPOINT_TAG = 'ehrlog/checkpoint/v3'

export interface CheckpointVerdict {
  networkId: string
  /** The membership version the checkpoint names (reached through the changes given). */
  version: number
  timeMs: number
  /** Indexes of the members that cosigned, ascending. */
  signers: number[]
  quorum: number
  feeds: Array<{ origin: string; treeSize: number; root: string; indexRoot: string }>
}

/** Thrown for anything that does not verify; `code` is the one docs/format.md names. */
export class CheckpointRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`)
  }
}

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function unhex(text: unknown, length: number | undefined, what: string): Uint8Array {
  if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(text))
    throw new CheckpointRefused('MALFORMED', `${what} is not lower-case hex`)
  const b = new Uint8Array(Buffer.from(text, 'hex'))
  if (length !== undefined && b.length !== length)
    throw new CheckpointRefused('MALFORMED', `${what} has ${b.length} bytes, want ${length}`)
  return b
}

/** RFC 8785 for what network.json and the cuts hold: strings, integers, booleans, null, arrays, objects. */
function jcs(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string')
    return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new CheckpointRefused('MALFORMED', 'a non-integer number')
    return String(value)
  }
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`
  if (typeof value === 'object') {
    // Default sort compares UTF-16 code units, which is RFC 8785 §3.2.3's order.
    const keys = Object.keys(value).sort()
    const obj = value as Record<string, unknown>
    return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(obj[k])}`).join(',')}}`
  }
  throw new CheckpointRefused('MALFORMED', `a ${typeof value} in JSON`)
}

/** RFC 9162 §2.1.1 Merkle tree hash over leaf hashes. */
function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256()
  if (leaves.length === 1) return leaves[0]!
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return sha256(Uint8Array.of(1), merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)))
}

type G1 = ReturnType<typeof bls12_381.G1.Point.fromBytes>
type G2 = ReturnType<typeof bls12_381.G2.Point.fromBytes>

/** KeyValidate: a compressed G1 point, in the subgroup, not the identity. */
function publicKeyPoint(bytes: Uint8Array, what: string): G1 {
  try {
    const point = bls12_381.G1.Point.fromBytes(bytes)
    point.assertValidity()
    if (!point.is0() && point.isTorsionFree()) return point
  } catch {}
  throw new CheckpointRefused('INVALID_SIGNATURE', `${what} is not a valid BLS public key`)
}

function signaturePoint(bytes: Uint8Array, what: string): G2 {
  try {
    const point = bls12_381.G2.Point.fromBytes(bytes)
    point.assertValidity()
    if (point.isTorsionFree()) return point
  } catch {}
  throw new CheckpointRefused('INVALID_SIGNATURE', `${what} is not a G2 point in the subgroup`)
}

/** Verify(pk, m, σ): e(pk, H(m)) = e(g1, σ), H = hash_to_curve to G2 with `dst`. */
function blsVerify(publicKey: G1, message: Uint8Array, signature: G2, dst: string): boolean {
  const hashed = bls12_381.G2.hashToCurve(message, { DST: dst }) as unknown as G2
  const { Fp12 } = bls12_381.fields
  const product = bls12_381.pairingBatch([
    { g1: publicKey, g2: hashed },
    { g1: bls12_381.G1.Point.BASE.negate(), g2: signature },
  ])
  return Fp12.eql(product, Fp12.ONE)
}

function u64be(n: number): Uint8Array {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return new Uint8Array(b)
}

/** Proof of possession of a BLS key (hex), as step 1 checks it. */
function popValid(keyHex: string, popHex: string): boolean {
  try {
    const keyBytes = unhex(keyHex, 48, 'key')
    const key = publicKeyPoint(keyBytes, 'key')
    return blsVerify(key, keyBytes, signaturePoint(unhex(popHex, 96, 'pop'), 'pop'), POP_DST)
  } catch {
    return false
  }
}

/** A BLS signature (hex) of `message` under the checkpoint DST. */
function blsSignatureValid(keyHex: string, message: Uint8Array, sigHex: string): boolean {
  try {
    const key = publicKeyPoint(unhex(keyHex, 48, 'key'), 'key')
    return blsVerify(key, message, signaturePoint(unhex(sigHex, 96, 'sig'), 'sig'), SIGNATURE_DST)
  } catch {
    return false
  }
}

/**
 * Checks `cosignedJson` against `networkJsonText` (trusted: the genesis) and the signed
 * membership `changes` from genesis (untrusted: each is checked), following format.md's steps
 * 1-5 with the members and quorum of the version the checkpoint names.
 */
export function verifyCheckpoint(
  networkJsonText: string,
  cosignedJson: unknown,
  changes: readonly unknown[] = [],
): CheckpointVerdict {
  // Step 1: members, their keys and proofs of possession, the network id.
  const network = JSON.parse(networkJsonText) as { members?: unknown }
  if (!Array.isArray(network.members) || network.members.length === 0)
    throw new CheckpointRefused('MALFORMED', 'network.json has no members')
  const genesisMembers = network.members as Array<Record<string, unknown>>
  genesisMembers.forEach((m, i) => {
    const keyBytes = unhex(m.blsPublicKey, 48, `members[${i}].blsPublicKey`)
    const key = publicKeyPoint(keyBytes, `members[${i}].blsPublicKey`)
    const pop = signaturePoint(
      unhex(m.blsProofOfPossession, 96, `members[${i}].blsProofOfPossession`),
      `members[${i}].blsProofOfPossession`,
    )
    if (!blsVerify(key, keyBytes, pop, POP_DST))
      throw new CheckpointRefused('INVALID_SIGNATURE', `members[${i}]'s proof of possession fails`)
  })
  const networkId = sha256(new TextEncoder().encode(jcs(network)))
  // Every version the changes reach, each change checked against the version before it.
  let versions: ReturnType<typeof followMembership>
  try {
    versions = followMembership(
      network as { members: Array<Record<string, unknown>> },
      Buffer.from(networkId),
      changes,
      { popValid, signatureValid: blsSignatureValid },
    )
  } catch (err) {
    if (err instanceof ChainRefused) throw new CheckpointRefused(err.code, err.message)
    throw err
  }

  const outer = cosignedJson as { cosigned?: unknown }
  const cosigned = (
    outer && typeof outer === 'object' && 'cosigned' in outer ? outer.cosigned : cosignedJson
  ) as {
    checkpoint?: { networkId?: unknown; membership?: unknown; timeMs?: unknown; feeds?: unknown }
    signers?: unknown
    signature?: unknown
  }
  const checkpoint = cosigned?.checkpoint
  if (!checkpoint) throw new CheckpointRefused('MALFORMED', 'no checkpoint')
  if (hex(unhex(checkpoint.networkId, 32, 'networkId')) !== hex(networkId))
    throw new CheckpointRefused('INVALID_SIGNATURE', 'checkpoint is for another network')
  // The version the checkpoint names must be one the changes reached, with that hash.
  const named = checkpoint.membership as { version?: unknown; hash?: unknown } | undefined
  if (typeof named?.version !== 'number' || !Number.isSafeInteger(named.version))
    throw new CheckpointRefused('MALFORMED', 'membership.version is not a version number')
  const membershipHash = unhex(named.hash, 32, 'membership.hash')
  const version = versions[named.version]
  if (!version || hex(membershipHash) !== version.hash.toString('hex'))
    throw new CheckpointRefused(
      'MEMBERSHIP_UNKNOWN',
      `checkpoint names membership version ${named.version}, the changes given reach version ${versions.length - 1}${version ? ' with another hash' : ''}`,
    )
  const members = version.members
  const keys = members.map((m, i) =>
    publicKeyPoint(
      unhex(m.blsPublicKey, 48, `version ${version.number} member ${i}`),
      `member ${i}`,
    ),
  )

  // Step 2: the cuts.
  const timeMs = checkpoint.timeMs
  if (typeof timeMs !== 'number' || !Number.isSafeInteger(timeMs) || timeMs < 0)
    throw new CheckpointRefused('MALFORMED', 'timeMs is not a time')
  if (!Array.isArray(checkpoint.feeds)) throw new CheckpointRefused('MALFORMED', 'no feeds')
  const feeds = (checkpoint.feeds as Array<Record<string, unknown>>).map((f, i) => {
    const { origin, treeSize } = f
    if (typeof origin !== 'string') throw new CheckpointRefused('MALFORMED', `feeds[${i}].origin`)
    if (typeof treeSize !== 'number' || !Number.isSafeInteger(treeSize) || treeSize < 0)
      throw new CheckpointRefused('MALFORMED', `feeds[${i}].treeSize`)
    return {
      origin,
      treeSize,
      root: hex(unhex(f.root, 32, `feeds[${i}].root`)),
      indexRoot: hex(unhex(f.indexRoot, 32, `feeds[${i}].indexRoot`)),
    }
  })
  for (let i = 1; i < feeds.length; i++) {
    if (!(feeds[i - 1]!.origin < feeds[i]!.origin))
      throw new CheckpointRefused('MALFORMED', 'feeds are not sorted by origin without repeats')
  }

  // Step 3: the signer bitmap, its one encoding, and the quorum.
  const n = members.length
  const bitmap = unhex(cosigned.signers, undefined, 'signers')
  if (bitmap.length !== Math.ceil(n / 8))
    throw new CheckpointRefused(
      'INVALID_PROOF',
      `signers has ${bitmap.length} bytes, want ${Math.ceil(n / 8)}`,
    )
  const signers: number[] = []
  for (let i = 0; i < bitmap.length * 8; i++) {
    if (!((bitmap[Math.floor(i / 8)]! >> (i % 8)) & 1)) continue
    if (i >= n) throw new CheckpointRefused('INVALID_PROOF', `signer bit ${i} past ${n} members`)
    signers.push(i)
  }
  const quorum = version.quorum
  if (signers.length < quorum)
    throw new CheckpointRefused('INVALID_SIGNATURE', `${signers.length} signers, quorum ${quorum}`)

  // Step 4: leaves, root, message.
  const leaves = feeds.map((f) =>
    sha256(
      Uint8Array.of(0),
      new TextEncoder().encode(
        jcs({ indexRoot: f.indexRoot, origin: f.origin, root: f.root, treeSize: f.treeSize }),
      ),
    ),
  )
  const message = new Uint8Array(
    Buffer.concat([
      Buffer.from(CHECKPOINT_TAG, 'utf8'),
      Uint8Array.of(0),
      networkId,
      u64be(named.version),
      membershipHash,
      u64be(timeMs),
      merkleRoot(leaves),
    ]),
  )

  // Step 5: FastAggregateVerify.
  let sum = bls12_381.G1.Point.ZERO
  for (const i of signers) sum = sum.add(keys[i]!)
  if (sum.is0())
    throw new CheckpointRefused('INVALID_SIGNATURE', 'the signers’ keys sum to the identity')
  const signature = signaturePoint(unhex(cosigned.signature, 96, 'signature'), 'signature')
  if (!blsVerify(sum, message, signature, SIGNATURE_DST))
    throw new CheckpointRefused('INVALID_SIGNATURE', 'the aggregate signature does not verify')
  return { networkId: hex(networkId), version: version.number, timeMs, signers, quorum, feeds }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [networkPath, checkpointPath, changesPath] = process.argv.slice(2)
  if (!networkPath || !checkpointPath) {
    console.error('usage: verify-checkpoint.ts network.json checkpoint.json [changes.json]')
    process.exit(2)
  }
  try {
    const given = changesPath ? JSON.parse(readFileSync(changesPath, 'utf8')) : []
    const changes = Array.isArray(given) ? given : (given as { changes?: unknown[] }).changes
    const verdict = verifyCheckpoint(
      readFileSync(networkPath, 'utf8'),
      JSON.parse(readFileSync(checkpointPath, 'utf8')),
      changes ?? [],
    )
    console.log(JSON.stringify(verdict))
  } catch (err) {
    console.error((err as Error).message)
    process.exit(1)
  }
}
