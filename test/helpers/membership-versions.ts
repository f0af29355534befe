import { blsSign } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type CosignedCheckpoint,
  checkpointSigningMessage,
} from '../../node/core/checkpoint.ts'
import { fromHex } from '../../node/core/hex.ts'
import {
  addSignature,
  type MembershipChange,
  type MembershipHistory,
  proposeChange,
  type SignedProposal,
} from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'

/*
 * Membership versions past genesis for tests of the clients, made by signing with the members'
 * keys directly: a change signed with their Ed25519 keys, and a checkpoint of the same cut
 * cosigned under version n with their BLS keys. The running nodes cannot change their
 * membership yet (the node runtime is being built beside this), so the tests that need a
 * checkpoint of version 1 from real node folders make it this way; everything else is real.
 */

/** A member's private keys, as a test holds them. */
export interface SigningMember {
  name: string
  ed25519: import('node:crypto').KeyObject
  bls: Uint8Array
}

/** The keys of each node folder (its signing key and BLS key), by name. */
export async function keysOfFolders(dirs: readonly string[]): Promise<Map<string, SigningMember>> {
  const out = new Map<string, SigningMember>()
  for (const dir of dirs) {
    const id = await openNodeDir(dir)
    const name = id.config.name
    out.set(name, { name, ed25519: id.signingKey, bls: id.blsSecretKey })
  }
  return out
}

/** `change` on `history`'s newest version, proposed by signers[0] and signed by each signer. */
export function signChange(
  history: MembershipHistory,
  change: MembershipChange,
  signers: readonly SigningMember[],
): SignedProposal {
  let signed: SignedProposal = {
    proposal: proposeChange(history.versions[history.latest]!, signers[0]!.name, change),
    signatures: [],
  }
  for (const s of signers) signed = addSignature(signed, s.name, s.ed25519)
  return signed
}

/**
 * `cosigned`'s checkpoint (same time, feeds and roots) cosigned under `history`'s version
 * `n` by `signers` (every member of version n by default), with their BLS keys.
 */
export function cosignAtVersion(
  cosigned: CosignedCheckpoint,
  history: MembershipHistory,
  n: number,
  keys: ReadonlyMap<string, SigningMember>,
  signers?: readonly string[],
  timeMs = cosigned.checkpoint.timeMs,
): CosignedCheckpoint {
  const m = history.at(n)!
  const checkpoint = {
    ...cosigned.checkpoint,
    timeMs,
    membership: { version: n, hash: fromHex(m.versionHash, 32) as Uint8Array },
  }
  const message = checkpointSigningMessage(checkpoint)
  const names = signers ?? m.members.map((x) => x.name)
  const sigs = new Map(
    m.members.flatMap((x, i) =>
      names.includes(x.name) ? [[i, blsSign(keys.get(x.name)!.bls, message)] as const] : [],
    ),
  )
  return aggregateCosignatures(checkpoint, sigs, m.members.length)
}
