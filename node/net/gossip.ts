import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import { isEhrlogError } from '../core/errors.ts'
import type { AcceptOutcome, Acceptor } from './acceptor.ts'
import { decodeGossipMessage, encodeBatchRecord, GOSSIP_HEADER_BYTES } from './batch-codec.ts'
import { GossipOutbox } from './gossip-outbox.ts'
import type { NetHost } from './host.ts'
import type { NetMembers } from './net-members.ts'
import { batchTopic, LIMITS } from './protocol.ts'
import type { FeedBatch, ReplicaStore } from './replica-store.ts'
import { waitForDrain } from './stream-drain.ts'

export interface GossipOptions {
  host: NetHost
  membership: NetMembers
  store: ReplicaStore
  acceptor: Acceptor
  log: Logger
  /** Asks the sync layer to pull from `peer` soon (coalesced there). */
  requestSync: (peer: string, reason: string) => void
  maxQueuedBytes?: number
}

// Above this many unsent bytes on any member's gossip stream the outbox waits for 'drain'.
const STREAM_HIGH_WATER_BYTES = 1024 * 1024
// A peer that does not drain in this long is left behind: it catches up by sync.
const DRAIN_TIMEOUT_MS = 2000

/**
 * New feed batches over gossipsub (docs/protocol.md, "Gossip"). Sending goes through a
 * bounded outbox; receiving happens in the topic validator, so a message is forwarded only
 * after every batch in it was verified and stored by this node.
 */
export class Gossip {
  readonly topic: string
  private readonly outbox: GossipOutbox

  constructor(private readonly opts: GossipOptions) {
    this.topic = batchTopic(opts.membership.networkId)
    this.outbox = new GossipOutbox(
      async (message) => {
        await opts.host.services.pubsub.publish(this.topic, message)
      },
      (signal) => this.waitWritable(signal),
      opts.log,
      {
        maxQueuedBytes: opts.maxQueuedBytes ?? 16 * 1024 * 1024,
        targetMessageBytes: LIMITS.targetGossipMessageBytes,
      },
    )
  }

  start(): void {
    const { pubsub } = this.opts.host.services
    pubsub.topicValidators.set(this.topic, (peer, msg) => this.validate(peer, msg))
    pubsub.subscribe(this.topic)
  }

  async stop(): Promise<void> {
    await this.outbox.stop()
    const { pubsub } = this.opts.host.services
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
  }

  /**
   * Queues a batch for gossip. One too large for a message goes out as an announcement (its
   * head alone), and receivers that lack it pull it by sync.
   */
  publish(batch: FeedBatch): void {
    let record = encodeBatchRecord(batch)
    if (record.byteLength + GOSSIP_HEADER_BYTES > LIMITS.maxGossipMessageBytes) {
      record = encodeBatchRecord({ ...batch, entries: [] })
    }
    this.outbox.enqueue(record)
  }

  get pendingBytes(): number {
    return this.outbox.pendingBytes
  }

  private async validate(peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const { membership, log } = this.opts
    const from = peer.toString()
    const member = membership.byPeerId(from)
    // Non-members are graylisted by peer score before they get here; this is the backstop.
    if (!member) {
      log.warn({ peer: from, code: 'FORBIDDEN' }, 'rejected gossip message: sender is not a member')
      return TopicValidatorResult.Reject
    }
    const context = { peer: from, peerName: member.name, bytes: msg.data.byteLength }
    if (msg.data.byteLength > LIMITS.maxGossipMessageBytes) {
      log.warn(
        {
          ...context,
          code: 'PAYLOAD_TOO_LARGE',
          reason: `message has ${msg.data.byteLength} bytes, limit ${LIMITS.maxGossipMessageBytes}`,
        },
        'rejected gossip message',
      )
      return TopicValidatorResult.Reject
    }
    let batches: FeedBatch[]
    try {
      batches = decodeGossipMessage(msg.data)
    } catch (err) {
      const code = isEhrlogError(err) ? err.code : 'ARGUMENT_INVALID'
      log.warn({ ...context, code, reason: (err as Error).message }, 'rejected gossip message')
      return TopicValidatorResult.Reject
    }
    const outcomes = await Promise.all(
      batches.map((b) =>
        b.entries.length === 0 ? this.announced(b) : this.opts.acceptor.accept(b, from),
      ),
    )
    if (outcomes.some((o) => o.status === 'rejected')) return TopicValidatorResult.Reject
    if (outcomes.some((o) => o.status === 'gap')) {
      // The sender has what we miss (it published or forwarded this batch): pull from it.
      this.opts.requestSync(from, 'gap')
      return TopicValidatorResult.Ignore
    }
    return TopicValidatorResult.Accept
  }

  /** An announced head: a gap if we hold less of that feed. */
  private async announced(batch: FeedBatch): Promise<AcceptOutcome> {
    const have = (await this.opts.store.sizes()).get(batch.origin) ?? 0
    if (have >= batch.head.treeSize || !this.opts.membership.isOrigin(batch.origin)) {
      return { status: 'duplicate', treeSize: have }
    }
    return { status: 'gap', have, want: have + 1 }
  }

  /** Waits while any member's gossip stream holds more than the high-water mark unsent. */
  private async waitWritable(signal: AbortSignal): Promise<void> {
    const { host, membership } = this.opts
    const protocols = host.services.pubsub.protocols
    for (const conn of host.getConnections()) {
      if (!membership.isMember(conn.remotePeer)) continue
      for (const stream of conn.streams) {
        if (stream.direction !== 'outbound' || !protocols.includes(stream.protocol)) continue
        if (!(await waitForDrain(stream, STREAM_HIGH_WATER_BYTES, DRAIN_TIMEOUT_MS, signal))) {
          this.opts.log.debug(
            { peer: conn.remotePeer.toString() },
            'gossip stream did not drain in time',
          )
        }
      }
    }
  }
}
