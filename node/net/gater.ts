import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { ClientConnections } from './client-connections.ts'
import type { NetMembers } from './net-members.ts'

/**
 * Who may connect, asked of the membership version in force at each connection. Members
 * always may. Non-members are the CLI clients of the query protocol (and a joining node before
 * it is admitted): they may connect inbound within the client limits (client-connections.ts:
 * slots per node and per address, idle ones making room), but they are never dialed, and
 * gossip (peer score below the graylist threshold, plus the topic validator) and sync (handler
 * check) refuse them per peer. With no client slots the node admits members only. A PeerId an
 * earlier version listed and the current one does not is refused outright when its member was
 * removed; a rotated-out libp2p PeerId of a member still listed is admitted as a client only
 * (its node learns the change that rotated it, then switches to the new key). `dialable` names the few non-members this node may dial: the
 * `--join` peers of a joining node.
 */
export function memberGater(
  members: NetMembers,
  clients: ClientConnections,
  dialable: (peer: PeerId) => boolean = () => false,
): ConnectionGater {
  const mayDial = (peer: PeerId) => members.isMember(peer) || dialable(peer)
  return {
    denyDialPeer: (peer) => !mayDial(peer),
    denyOutboundEncryptedConnection: (peer) => !mayDial(peer),
    denyInboundEncryptedConnection: (peer, maConn) =>
      (members.isFormerPeer(peer) && !members.isRotatedOutPeer(peer)) ||
      clients.denyInbound(peer, maConn.remoteAddr),
  }
}
