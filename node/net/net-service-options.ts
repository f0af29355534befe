import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Membership } from '../core/trust/index.ts'
import type { ControlHandler } from './control-topic.ts'
import type { RedialOptions } from './member-dialer.ts'
import type { MembershipSource } from './net-members.ts'
import type { QueryHandler } from './query-protocol.ts'
import type { RepairSource } from './repair-server.ts'
import type { ReplicaStore } from './replica-store.ts'
import type { PeerSizesListener } from './sync.ts'

/** What a NetService is made with (net-service.ts), and what it says of its peers. */
export interface NetServiceOptions {
  /**
   * A fixed membership, or a live one (node/membership LiveMembership) that the network
   * follows as changes are applied, serving and fetching the chain (/ehrlog/membership/1.0.0).
   */
  membership: Membership | MembershipSource
  /** This node's member name. */
  self: string
  /**
   * libp2p identity; its PeerId must be the one the membership lists for `self`. With a live
   * membership that does not list `self` yet the node is joining: it waits to be admitted.
   */
  privateKey: PrivateKey
  /**
   * The node's rotated libp2p key (keys-next.enc), if it holds one: when a version in force
   * lists its PeerId for `self` (a `rotate-libp2p` change applied at a cut), the network
   * restarts its host with it, in this process (rekey()). A function is asked at that moment
   * for the key of the PeerId listed (a running node reads keys-next.enc again: `ehrlog keys
   * rotate` may have written it after the start); undefined when it holds none.
   */
  nextPrivateKey?: PrivateKey | ((peerId: string) => Promise<PrivateKey | undefined>)
  /** Told once the network runs on a rotated libp2p key (rekey()), with its PeerId. */
  onRekeyed?: (peerId: string) => void
  /** A joining node's peers to ask for the chain besides the members it knows (/p2p/ multiaddrs). */
  join?: string[]
  /** Multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/7400. */
  listen: string[]
  /** Addresses other nodes dial, announced instead of the listen ones (config `announce`). */
  announce?: string[]
  store: ReplicaStore
  logger: Logger
  /** Mean anti-entropy period (default 5000). */
  syncIntervalMs?: number
  /** Longest wait for one sync frame or dial (default 15000). */
  syncTimeoutMs?: number
  /** Non-member (client) connections admitted at once (default 16; 0: members only). */
  maxClientConnections?: number
  /** Client connections from one IP address (default 4). */
  maxClientConnectionsPerAddress?: number
  /** A client connection without an open stream this long is closed (default 10 s). */
  clientIdleMs?: number
  redial?: Partial<RedialOptions>
  /** Gossip outbox bound in bytes (default 16 MiB). */
  maxOutboxBytes?: number
  /** Member-only control topics by name, with the handler deciding on each message (or handleControl). */
  controlTopics?: Record<string, ControlHandler>
  /** Answers /ehrlog/repair/1.0.0 from this replica; without it the protocol is not served. */
  repair?: RepairSource
  /** Longest wait for a repair dial, frame or write (default 10000). */
  repairTimeoutMs?: number
  /** Answers /ehrlog/query/1.0.0 (clients too); without it (or handleQuery) it is not served. */
  query?: QueryHandler
  /** Told of each member's state vector in a sync session, either side (PeerSizesListener). */
  onPeerSizes?: PeerSizesListener
}

export interface PeerInfo {
  peerId: string
  /** Member name, or undefined for a client. */
  name: string | undefined
  addresses: string[]
  /** Subscribed to this network's gossip topic (members only: clients are graylisted). */
  gossip: boolean
}
