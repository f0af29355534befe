import type { PortalNetwork } from './portal-routes.ts'

/**
 * What browsers verify with: the node's network.json as it is (parsed, not rewritten), and the
 * id the node computed from it. The page recomputes the id from the file and pins it, so the
 * keys it verifies with are bound to the id it shows (docs/portal.md, "Trust in the membership").
 * `networkJsonText` has been accepted by Membership.parse already.
 */
export function portalNetworkOf(networkId: string, networkJsonText: string): PortalNetwork {
  return { networkId, networkJson: JSON.parse(networkJsonText) as unknown }
}
