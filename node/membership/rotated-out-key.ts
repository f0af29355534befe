import { fromHex } from '../core/hex.ts'
import { verifyEd25519 } from '../core/tree-head.ts'
import {
  type MembershipVersion,
  proposalMessage,
  type SignedProposal,
} from '../core/trust/index.ts'

/**
 * A signature of `signed` that does not verify under its signer's Ed25519 key of the base
 * version but under a key that member held at an earlier version: whoever holds the old key
 * tried to sign new history. Returns the signer and the version from which that key was no
 * longer the member's; undefined when no signature is such.
 */
export function rotatedOutSignature(
  versions: readonly MembershipVersion[],
  next: MembershipVersion | undefined,
  signed: SignedProposal,
): { signer: string; until: number } | undefined {
  const { baseVersion, baseHash } = signed.proposal
  const at =
    versions.find((v) => v.number === baseVersion && v.hash === baseHash) ??
    (next?.number === baseVersion && next.hash === baseHash ? next : undefined)
  if (!at) return undefined
  const all = next && next.number > versions.length - 1 ? [...versions, next] : versions
  const message = proposalMessage(signed.proposal)
  const keyOf = (v: MembershipVersion, name: string) =>
    v.members.find((m) => m.name === name)?.ed25519PublicKey
  for (const { signer, signature } of signed.signatures) {
    const now = keyOf(at, signer)
    const sig = fromHex(signature, 64) as Uint8Array
    for (let n = at.number - 1; n >= 0; n--) {
      const old = keyOf(all[n]!, signer)
      if (!old || old === now) continue
      if (!verifyEd25519(fromHex(old, 32) as Uint8Array, message, sig)) continue
      const until = all.findIndex((v, i) => i > n && keyOf(v, signer) !== old)
      return { signer, until: until < 0 ? at.number : until }
    }
  }
  return undefined
}
