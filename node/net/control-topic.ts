import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { NetHost } from './host.ts'
import type { NetMembers } from './net-members.ts'
import { controlTopic, LIMITS } from './protocol.ts'

/**
 * Decides on a control message from a member: true accepts (and forwards) it, false rejects
 * it (the sender's score drops), 'ignore' neither forwards it nor holds it against the sender
 * (a message this node cannot judge yet). Exceptions count as a rejection and are logged.
 */
export type ControlVerdict = boolean | 'ignore'
export type ControlHandler = (
  data: Uint8Array,
  fromMember: string,
) => Promise<ControlVerdict> | ControlVerdict

/**
 * A member-only gossip topic for small control messages of one network (checkpoint rounds,
 * equivocation evidence): messages are at most LIMITS.maxControlMessageBytes, from members
 * only, and handled in the topic validator, so only what a node accepted travels on.
 */
export class ControlTopic {
  readonly topic: string

  constructor(
    private readonly host: NetHost,
    private readonly membership: NetMembers,
    name: string,
    private readonly handler: ControlHandler,
    private readonly log: Logger,
  ) {
    this.topic = controlTopic(membership.networkId, name)
  }

  start(): void {
    const { pubsub } = this.host.services
    pubsub.topicValidators.set(this.topic, (peer, msg) => this.validate(peer, msg))
    pubsub.subscribe(this.topic)
  }

  stop(): void {
    const { pubsub } = this.host.services
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
  }

  async publish(data: Uint8Array): Promise<void> {
    try {
      await this.host.services.pubsub.publish(this.topic, data)
    } catch (err) {
      // NoPeersSubscribedToTopic and the like: the message is also offered again next round.
      this.log.debug({ topic: this.topic, err: (err as Error).message }, 'control message not sent')
    }
  }

  private async validate(peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const member = this.membership.byPeerId(peer)
    if (!member || msg.data.byteLength > LIMITS.maxControlMessageBytes) {
      this.log.warn(
        { peer: peer.toString(), bytes: msg.data.byteLength, topic: this.topic },
        'rejected control message: not a member, or too large',
      )
      return TopicValidatorResult.Reject
    }
    try {
      const verdict = await this.handler(msg.data, member.name)
      if (verdict === 'ignore') return TopicValidatorResult.Ignore
      return verdict ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
    } catch (err) {
      this.log.warn(
        { peerName: member.name, topic: this.topic, err: (err as Error).message },
        'rejected control message',
      )
      return TopicValidatorResult.Reject
    }
  }
}
