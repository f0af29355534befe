import { canonicalJson } from '../canonical-json.ts'
import type { CheckpointKeys } from '../checkpoint.ts'
import { fromHex, toHex } from '../hex.ts'
import { sha256 } from '../merkle/hash.ts'

/**
 * The keys every check of what a node sends is made against, taken from the verifier's own
 * copy of network.json (never from the node being checked). One shape for nodes, the CLI
 * and the browser; Membership.keys builds it.
 */
export interface NetworkKeys {
  /** networkIdOf(genesis network.json), hex: bound into every checkpoint's signed message. */
  networkId: string
  /**
   * The membership version these keys are of (0 = genesis network.json) and its hash (the
   * network id for version 0): a checkpoint names the version it was cosigned under.
   */
  version: number
  versionHash: string
  /** How many of the members a checkpoint needs: a majority unless a quorum change set it. */
  quorum: number
  /** The members' BLS keys in the version's order: a checkpoint's signer bitmap indexes it. */
  blsKeys: readonly Uint8Array[]
  /** Each member's Ed25519 key, by name (the origin of its feed): it signs the tree heads. */
  ed25519Keys: ReadonlyMap<string, Uint8Array>
  /**
   * The network's ECVRF public key (RFC 9381, edwards25519): a completeness proof's VRF
   * proof is checked under it, which binds the proof's tree keys to the patient asked about.
   */
  vrfPublicKey: Uint8Array
}

/** What verifyCosignedCheckpoint takes, from the keys of one membership version. */
export function checkpointKeysOf(keys: NetworkKeys): CheckpointKeys {
  return {
    networkId: fromHex(keys.networkId, 32) as Uint8Array,
    membership: { version: keys.version, hash: fromHex(keys.versionHash, 32) as Uint8Array },
    blsKeys: keys.blsKeys,
    quorum: keys.quorum,
  }
}

/**
 * The network id: SHA-256 of network.json's RFC 8785 canonical JSON, hex. Every holder of
 * the same file gets the same id however it is formatted. Throws for a number JSON
 * canonicalization refuses (RFC 8785 section 3.2.2.3).
 */
export function networkIdOf(networkJson: unknown): string {
  return toHex(sha256(new TextEncoder().encode(canonicalJson(networkJson))))
}

/** The first 16 hex digits, as ehrlog prints network ids ("1a2b…"). */
export function shortNetworkId(networkId: string): string {
  return `${networkId.slice(0, 16)}…`
}
