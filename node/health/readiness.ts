import type { Readiness } from '../api/index.ts'

/** What readiness is judged on, read at each probe. */
export interface ReadinessSources {
  /** The node's parts are started (its store open) and not yet stopping. */
  started(): boolean
  /** Why the own feed takes no appends now (its tip not known yet), or undefined. */
  appendHold(): string | undefined
  /** Members of the network besides this node, and how many are connected. */
  memberCount(): number
  connectedMembers(): number
}

/**
 * Ready: store open, own feed's tip known (appends are not held), and at least one other
 * member connected, so an accepted event leaves this host within seconds. A one-member
 * network needs no peer.
 */
export function readinessOf(sources: ReadinessSources): Readiness {
  const reasons: string[] = []
  if (!sources.started()) return { ready: false, reasons: ['the node is starting or stopping'] }
  const hold = sources.appendHold()
  if (hold !== undefined) reasons.push(`the own feed's tip is not known yet: ${hold}`)
  const members = sources.memberCount()
  if (members > 0 && sources.connectedMembers() === 0)
    reasons.push(`no member connected (0 of ${members})`)
  return { ready: reasons.length === 0, reasons }
}
