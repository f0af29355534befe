import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Membership } from '../core/trust/index.ts'

/**
 * Who may connect. Members always may. Non-members are the CLI clients of the future query
 * protocol: they may connect inbound while fewer than `maxClientConnections` are connected,
 * but they are never dialed, and gossip (peer score below the graylist threshold, plus the
 * topic validator) and sync (handler check) refuse them per peer. With 0 the node admits
 * members only.
 */
export function memberGater(
  membership: Membership,
  maxClientConnections: number,
  clientConnections: () => number,
): ConnectionGater {
  const isMember = (peer: PeerId) => membership.isMember(peer)
  return {
    denyDialPeer: (peer) => !isMember(peer),
    denyOutboundEncryptedConnection: (peer) => !isMember(peer),
    denyInboundEncryptedConnection: (peer) =>
      !isMember(peer) && clientConnections() >= maxClientConnections,
  }
}
