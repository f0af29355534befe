/** What happened to a sender's messages: received, appended (durable), refused. */
export type MessageOutcome = 'received' | 'appended' | 'refused'

export interface SenderTally {
  sender: string
  received: number
  appended: number
  refused: number
}

/**
 * Per-sender message counts since the node started, for `GET /api/v1/status`. A sender is
 * its certificate subject's CN (or "unauthenticated" for a refused handshake), or over UDP
 * `udp:ADDRESS` (or `udp:not-allowed`, udp-listener.ts): never patient data. A message is counted received once, then appended or refused once, so
 * received − appended − refused is what is still in flight.
 */
export class SenderCounts {
  readonly #bySender = new Map<string, SenderTally>()
  readonly #observe: ((sender: string, outcome: MessageOutcome, n: number) => void) | undefined

  constructor(observe?: (sender: string, outcome: MessageOutcome, n: number) => void) {
    this.#observe = observe
  }

  count(sender: string, outcome: MessageOutcome, n = 1): void {
    let tally = this.#bySender.get(sender)
    if (!tally) {
      tally = { sender, received: 0, appended: 0, refused: 0 }
      this.#bySender.set(sender, tally)
    }
    tally[outcome] += n
    this.#observe?.(sender, outcome, n)
  }

  /** A copy of every sender's tally, sorted by sender. */
  tallies(): SenderTally[] {
    return [...this.#bySender.values()]
      .map((t) => ({ ...t }))
      .sort((a, b) => a.sender.localeCompare(b.sender))
  }
}
