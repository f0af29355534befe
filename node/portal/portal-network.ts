import type { PortalNetwork } from './portal-routes.ts'

/** The public keys of the membership, as browsers verify with them (no addresses, no PeerIds). */
export function portalNetworkOf(membership: {
  networkId: string
  members: ReadonlyArray<{ name: string; blsPublicKey: string; ed25519PublicKey: string }>
}): PortalNetwork {
  return {
    networkId: membership.networkId,
    members: membership.members.map(({ name, blsPublicKey, ed25519PublicKey }) => ({
      name,
      blsPublicKey,
      ed25519PublicKey,
    })),
  }
}
