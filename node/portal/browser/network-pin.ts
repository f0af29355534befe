/**
 * Trust on first use of the membership (docs/portal.md, "Trust in the membership"): the
 * first answer this browser verifies pins the network id in localStorage (per origin, so
 * per node address); a later page whose node serves another network is refused. It stops a
 * node that starts lying after a user's first visit, not one that lied from the start.
 */
const PIN_KEY = 'ehrlog.network'

export interface NetworkPin {
  networkId: string
  /** ISO 8601 UTC: when this browser first verified data of this network. */
  pinnedAt: string
}

export type PinCheck =
  | { state: 'first-use' }
  | { state: 'pinned'; pin: NetworkPin }
  | { state: 'changed'; pin: NetworkPin }
  /** localStorage is off (e.g. blocked by the browser): nothing can be pinned. */
  | { state: 'unavailable' }

/** How `networkId` compares with the pin this browser holds. */
export function checkNetworkPin(networkId: string): PinCheck {
  let text: string | null
  try {
    text = localStorage.getItem(PIN_KEY)
  } catch {
    return { state: 'unavailable' }
  }
  const pin = parsePin(text)
  if (!pin) return { state: 'first-use' }
  return pin.networkId === networkId ? { state: 'pinned', pin } : { state: 'changed', pin }
}

/** Pins `networkId`; call only after an answer verified against it. */
export function pinNetwork(networkId: string, now = new Date()): NetworkPin | undefined {
  const pin: NetworkPin = { networkId, pinnedAt: now.toISOString() }
  try {
    localStorage.setItem(PIN_KEY, JSON.stringify(pin))
    return pin
  } catch {
    return undefined
  }
}

/** What another script or an edited profile left there is untrusted: a malformed pin is none. */
function parsePin(text: string | null): NetworkPin | undefined {
  if (text === null) return undefined
  try {
    const value = JSON.parse(text) as Partial<NetworkPin>
    if (typeof value.networkId === 'string' && /^[0-9a-f]{64}$/.test(value.networkId))
      return { networkId: value.networkId, pinnedAt: String(value.pinnedAt ?? '') }
  } catch {}
  return undefined
}
