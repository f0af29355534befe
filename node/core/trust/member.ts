import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { ORIGIN_PATTERN } from '../layout.ts'

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))

/**
 * identity.json: the public half of a node, which hospitals exchange to assemble network.json,
 * and one member of it. Parsing checks shapes only; the BLS proof of possession is checked
 * where membership is built (membership.ts).
 */
export const publicIdentitySchema = z.strictObject({
  name: z.string().regex(ORIGIN_PATTERN),
  /** Ed25519 key that signs the node's feed tree heads. */
  ed25519PublicKey: hex(32),
  peerId: z.string().refine((text) => {
    try {
      peerIdFromString(text)
      return true
    } catch {
      return false
    }
  }, 'not a libp2p PeerId'),
  /** Compressed G1 point (48 bytes) that cosigns checkpoints. */
  blsPublicKey: hex(48),
  /** Its proof of possession (96 bytes), which stops rogue-key forgeries of aggregates. */
  blsProofOfPossession: hex(96),
  /** Multiaddrs other nodes dial. */
  addresses: z.array(z.string()),
})

export type PublicIdentity = z.output<typeof publicIdentitySchema>

/** One member of network.json: a node's identity.json. */
export type Member = PublicIdentity
