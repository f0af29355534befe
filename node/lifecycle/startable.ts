/**
 * A long-lived part of a node, as js-libp2p's Startable: its constructor does no I/O, start()
 * takes what it needs (a lock, a port, a timer), stop() gives it back. stop() must be safe to
 * call at any time, more than once, and after a start() that threw.
 */
export interface Startable {
  start(): Promise<void>
  stop(): Promise<void>
}

/** A part and the name its start and stop failures are logged under. */
export type NamedPart = readonly [name: string, part: Startable]
