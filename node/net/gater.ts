import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Membership } from '../core/trust/index.ts'
import type { ClientConnections } from './client-connections.ts'

/**
 * Who may connect. Members always may. Non-members are the CLI clients of the query
 * protocol: they may connect inbound within the client limits (client-connections.ts: slots
 * per node and per address, idle ones making room), but they are never dialed, and gossip
 * (peer score below the graylist threshold, plus the topic validator) and sync (handler
 * check) refuse them per peer. With no client slots the node admits members only.
 */
export function memberGater(membership: Membership, clients: ClientConnections): ConnectionGater {
  const isMember = (peer: PeerId) => membership.isMember(peer)
  return {
    denyDialPeer: (peer) => !isMember(peer),
    denyOutboundEncryptedConnection: (peer) => !isMember(peer),
    denyInboundEncryptedConnection: (peer, maConn) => clients.denyInbound(peer, maConn.remoteAddr),
  }
}
