/**
 * What `GET /api/v1/status` answers. It names nodes, peers and feed sizes only: no patient
 * data, which is why the route needs no token. node.ts assembles it from its parts.
 */
export interface NodeStatus {
  /** This node's name (its origin). */
  node: string
  /** Hash of network.json, when the node is part of a network. */
  networkId?: string
  peers: Array<{ name?: string; peerId: string; connected: boolean }>
  /**
   * Every other member of network.json: connected or not, the address dialed (or of the open
   * connection), the last dial error, and when it was last connected (ISO 8601).
   */
  members?: Array<{
    name: string
    peerId: string
    connected: boolean
    address?: string
    lastError?: string
    lastConnectedAt?: string
    failures: number
  }>
  /** The membership version in force; a joining node is not admitted yet and says why. */
  membership?: { version: number; admitted: boolean; waitingFor?: string }
  /** Every feed this node holds: entries on disk and, if known, the latest signed tree size. */
  feeds: Array<{ origin: string; size: number; headSize?: number }>
  /** Origin → entries this node is behind the largest size it has heard of. */
  replicationLag?: Record<string, number>
  /**
   * The own-feed fence (docs/architecture.md, "One history per origin"): whether appends wait
   * for the members to confirm the feed's tip, what for, and how many events are pending.
   */
  ownFeed?: { fenced: boolean; waitingFor?: string; pendingEvents: number }
  uptimeSeconds: number
  /** ATNA syslog senders (certificate CN, or udp:ADDRESS) and their message counts since start (docs/atna.md). */
  syslog?: Array<{ sender: string; received: number; appended: number; refused: number }>
}

/**
 * Response schema of the status route. Fastify serializes with it, so a field added to the
 * object by mistake (say, something with patient data) is dropped rather than published.
 */
export const nodeStatusSchema = {
  type: 'object',
  required: ['node', 'peers', 'feeds', 'uptimeSeconds'],
  properties: {
    node: { type: 'string' },
    networkId: { type: 'string' },
    peers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['peerId', 'connected'],
        properties: {
          name: { type: 'string' },
          peerId: { type: 'string' },
          connected: { type: 'boolean' },
        },
      },
    },
    members: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'peerId', 'connected', 'failures'],
        properties: {
          name: { type: 'string' },
          peerId: { type: 'string' },
          connected: { type: 'boolean' },
          address: { type: 'string' },
          lastError: { type: 'string' },
          lastConnectedAt: { type: 'string' },
          failures: { type: 'integer' },
        },
      },
    },
    feeds: {
      type: 'array',
      items: {
        type: 'object',
        required: ['origin', 'size'],
        properties: {
          origin: { type: 'string' },
          size: { type: 'integer' },
          headSize: { type: 'integer' },
        },
      },
    },
    replicationLag: { type: 'object', additionalProperties: { type: 'integer' } },
    ownFeed: {
      type: 'object',
      required: ['fenced', 'pendingEvents'],
      properties: {
        fenced: { type: 'boolean' },
        waitingFor: { type: 'string' },
        pendingEvents: { type: 'integer' },
      },
    },
    uptimeSeconds: { type: 'number' },
    syslog: {
      type: 'array',
      items: {
        type: 'object',
        required: ['sender', 'received', 'appended', 'refused'],
        properties: {
          sender: { type: 'string' },
          received: { type: 'integer' },
          appended: { type: 'integer' },
          refused: { type: 'integer' },
        },
      },
    },
  },
} as const
