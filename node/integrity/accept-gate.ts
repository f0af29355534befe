import type { AcceptResult, FeedBatch } from '../store/index.ts'
import type { IntegrityService } from './integrity-service.ts'

/** The network's door into the store, as the gate sees it (NetService). */
export interface NetworkDoor {
  gateAccepts(
    gate: (batch: FeedBatch, store: () => Promise<AcceptResult>) => Promise<AcceptResult>,
  ): void
  onAccepted(listener: (batch: FeedBatch, fromPeer: string) => void): unknown
}

/**
 * Puts the integrity gate on the network's door into the store, before the network starts.
 * Every batch from a peer is stored through IntegrityService.accept: it waits while a repair
 * of its feed runs, and, for a feed damaged at open or shorter than the checkpoint, until the
 * first scrub named the damage (sync would otherwise refill it unseen); a conflicting signed
 * head becomes equivocation evidence. The member that delivered each stored batch is noted, to
 * credit repairs that sync completes.
 */
export function gateAccepts(
  door: NetworkDoor,
  integrity: Pick<IntegrityService, 'accept' | 'noteDelivered'>,
  memberName: (peerId: string) => string | undefined,
): void {
  door.gateAccepts((batch, store) => integrity.accept(batch, store))
  door.onAccepted((batch, fromPeer) => integrity.noteDelivered(batch.origin, memberName(fromPeer)))
}
