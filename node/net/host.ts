import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { sha256 } from '../core/merkle/hash.ts'
import type { Membership } from '../core/trust/index.ts'
import { ClientConnections, DEFAULT_CLIENT_LIMITS } from './client-connections.ts'
import { memberGater } from './gater.ts'
import { NetMembers } from './net-members.ts'
import { batchTopic, controlTopic, LIMITS } from './protocol.ts'

export type NetHost = Libp2p<{ identify: Identify; pubsub: GossipSub }>

export interface HostOptions {
  /** A fixed membership, or NetMembers following a live one (asked at each decision). */
  membership: Membership | NetMembers
  privateKey: PrivateKey
  listen: string[]
  /** Addresses to announce instead of the listen ones (public IP or DNS name and port). */
  announce?: string[]
  /** Non-member (client) connections admitted at once; 0 admits members only. */
  maxClientConnections: number
  /** Client connections from one IP address (default 4). */
  maxClientConnectionsPerAddress?: number
  /** A client connection without an open stream this long is closed (default 10 s). */
  clientIdleMs?: number
  /** Names of the member-only control topics (control-topic.ts) besides the batch topic. */
  controlTopics?: string[]
  /** Non-members this node may dial (a joining node's `--join` peers). */
  dialable?: (peer: PeerId) => boolean
}

/** New inbound connections admitted per second from one IP address (docs/protocol.md). */
export const INBOUND_CONNECTIONS_PER_SECOND = 50

// Peer score thresholds are gossipsub's defaults (graylist -80); a non-member scores
// -1000 * weight 1, so gossipsub ignores every RPC from it (acceptFrom), never grafts it
// into the mesh and never publishes or gossips to it.
const NON_MEMBER_SCORE = -1000

/** Creates and starts the libp2p host of one node (docs/protocol.md, "Transport"). */
export async function createHost(opts: HostOptions): Promise<NetHost> {
  const membership = NetMembers.of(opts.membership)
  let host: NetHost | undefined
  const clients = new ClientConnections(
    {
      max: opts.maxClientConnections,
      perAddress: opts.maxClientConnectionsPerAddress ?? DEFAULT_CLIENT_LIMITS.perAddress,
      idleMs: opts.clientIdleMs ?? DEFAULT_CLIENT_LIMITS.idleMs,
    },
    () => host?.getConnections() ?? [],
    (peer) => membership.isMember(peer),
  )
  host = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: {
      listen: opts.listen,
      ...(opts.announce?.length ? { announce: opts.announce } : {}),
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: memberGater(membership, clients, opts.dialable),
    connectionManager: {
      // Room for members added later without a restart.
      maxConnections: 2 * membership.members.length + opts.maxClientConnections + 16,
      dialTimeout: 10_000,
      // libp2p's default admits 5 new inbound connections per second per IP address, so a
      // handful of auditors behind one NAT (or quick CLI runs) had connections reset. Client
      // connections are capped by the gater anyway; this only bounds the handshake rate.
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND,
    },
    // docs/performance.md: under heavy publishing the 10 s pings time out and the monitor aborts
    // healthy links, after which nothing redials. Keep the pings (they measure rtt) but
    // never abort on them; liveness is judged by sync timeouts (sync.ts) and lost links
    // are redialed by MemberDialer.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        // Batches carry their origin's signature; gossipsub's own signing would cost 3x
        // throughput for nothing (docs/performance.md). Without a signature the id is the content hash.
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg) => sha256(msg.data),
        allowedTopics: [
          batchTopic(membership.networkId),
          ...(opts.controlTopics ?? []).map((name) => controlTopic(membership.networkId, name)),
        ],
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        floodPublish: true,
        fallbackToFloodsub: false,
        doPX: false,
        // Room above our own cap so that oversized messages reach the topic validator and
        // are rejected with a logged reason; far larger frames are dropped by the decoder.
        maxInboundDataLength: 2 * LIMITS.maxGossipMessageBytes,
        // A safety net only: the outbox waits for 'drain' long before this (gossip-outbox.ts).
        maxOutboundBufferSize: 32 * LIMITS.maxGossipMessageBytes,
        scoreParams: {
          appSpecificScore: (peer) => (membership.isMember(peer) ? 0 : NON_MEMBER_SCORE),
          appSpecificWeight: 1,
          // Members are a closed, known set and may share an address (NAT, loopback tests):
          // the colocation penalty defends open networks against Sybils, not this one.
          IPColocationFactorWeight: 0,
        },
      }),
    },
  })
  // Idle client connections are closed within a fraction of the idle time after it passes.
  const idleMs = opts.clientIdleMs ?? DEFAULT_CLIENT_LIMITS.idleMs
  const sweeper = setInterval(() => clients.sweep(), Math.max(100, Math.min(idleMs / 4, 2_000)))
  sweeper.unref()
  host.addEventListener('stop', () => clearInterval(sweeper))
  return host
}
