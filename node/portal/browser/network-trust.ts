import { z } from 'zod'
import { verifyBlsProofOfPossession } from '../../core/bls.ts'
import { canonicalJson } from '../../core/canonical-json.ts'
import { fromHex, toHex } from '../../core/hex.ts'
import { sha256 } from '../../core/merkle/hash.ts'

/** The keys the page verifies answers with, bound to the network id it computed itself. */
export interface TrustedNetwork {
  /** SHA-256 of network.json's canonical JSON, hex: what Membership computes on the nodes. */
  networkId: string
  blsKeys: Uint8Array[]
  ed25519Keys: Map<string, Uint8Array>
}

/** Why the served membership cannot be used: nothing on the page may then show as verified. */
export class UntrustedNetwork extends Error {}

const hexOf = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))

// Only what verification reads; network.json's other fields (addresses, PeerIds) are hashed
// with the rest but not used here.
const servedSchema = z.object({
  networkId: hexOf(32),
  networkJson: z.object({
    members: z
      .array(
        z.object({
          name: z.string().min(1),
          blsPublicKey: hexOf(48),
          blsProofOfPossession: hexOf(96),
          ed25519PublicKey: hexOf(32),
        }),
      )
      .min(1),
  }),
})

/**
 * Parses what `GET /api/v1/network` answered (untrusted): recomputes the network id from the
 * served network.json, which must be the id the node named, and checks each member's BLS proof
 * of possession (which stops rogue-key aggregates, as Membership does on the nodes). Throws
 * UntrustedNetwork saying what is wrong.
 */
export function trustedNetworkOf(served: unknown): TrustedNetwork {
  const parsed = servedSchema.safeParse(served)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UntrustedNetwork(
      `the node's network.json is malformed: ${issue?.path.join('.') || 'the answer'} ${issue?.message ?? ''}`,
    )
  }
  const { networkId, networkJson } = parsed.data
  let computed: string
  try {
    // The file as served, every field: zod's parse above keeps only the ones it checks.
    const file = (served as { networkJson: unknown }).networkJson
    computed = toHex(sha256(new TextEncoder().encode(canonicalJson(file))))
  } catch (err) {
    throw new UntrustedNetwork(
      `the node's network.json cannot be hashed: ${(err as Error).message}`,
    )
  }
  if (computed !== networkId)
    throw new UntrustedNetwork(
      `the node's network.json hashes to ${shortNetworkId(computed)}, not to the network id ${shortNetworkId(networkId)} it names`,
    )
  const blsKeys = networkJson.members.map((m) => fromHex(m.blsPublicKey, 48) as Uint8Array)
  networkJson.members.forEach((m, i) => {
    if (!verifyBlsProofOfPossession(blsKeys[i]!, fromHex(m.blsProofOfPossession, 96)!))
      throw new UntrustedNetwork(
        `network.json: ${m.name}'s BLS proof of possession does not verify`,
      )
  })
  return {
    networkId,
    blsKeys,
    ed25519Keys: new Map(
      networkJson.members.map((m) => [m.name, fromHex(m.ed25519PublicKey, 32) as Uint8Array]),
    ),
  }
}

/** The first 16 hex digits, as the CLI prints network ids ("1a2b…"). */
export function shortNetworkId(networkId: string): string {
  return `${networkId.slice(0, 16)}…`
}
