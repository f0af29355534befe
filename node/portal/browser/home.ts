import {
  type MembershipHistory,
  type NetworkKeys,
  parseQueryFilter,
  type QueryFilter,
  shortNetworkId,
  timestamp,
} from '../../core/trust/index.ts'
import { getJson, postJson } from './api.ts'
import { mountEnrollForm } from './enroll.ts'
import { followServedMembership } from './membership-chain.ts'
import { checkNetworkPin, type PinCheck, pinNetwork } from './network-pin.ts'
import { trustedNetworkOf, UntrustedNetwork } from './network-trust.ts'
import { setStatus, showRefusal, showReport } from './report-page.ts'
import { DEFAULT_PAGE_LIMIT, NodeRefusal, TrailLoader } from './trail-loader.ts'

const FILTER_FIELDS = ['patient', 'actor', 'action', 'resource', 'from', 'to'] as const

/** The signed-in page: logout, and (for active accounts) the verified access report. */
export function setUpHome(body: HTMLElement): void {
  document.getElementById('logout')?.addEventListener('click', () => {
    logOut().finally(() => location.assign('/login'))
  })
  mountEnrollForm(body).catch(() => {})
  if (body.dataset.status !== 'active') return
  const params = new URLSearchParams(location.search)
  const form = document.getElementById('filter-form') as HTMLFormElement | null
  for (const field of FILTER_FIELDS) {
    // Inputs, and the action's <select> (an unknown action selects nothing: "any").
    const input = form?.elements.namedItem(field) as HTMLInputElement | HTMLSelectElement | null
    if (input) input.value = params.get(field) ?? ''
  }
  showLogs(body, params).catch((err: unknown) => {
    setStatus('', `could not check the data: ${(err as Error).message}`)
  })
}

/** Nothing verified to report: the report's empty tables and buttons go. */
function hideReport(): void {
  const report = document.getElementById('report')
  if (report) report.hidden = true
}

export async function logOut(): Promise<void> {
  await postJson('/api/v1/auth/logout', {})
}

/** `limit=` from the address when it is a page size the node accepts (1–1000). */
function pageLimitOf(params: URLSearchParams): number {
  const n = Number(params.get('limit'))
  return Number.isSafeInteger(n) && n >= 1 && n <= 1000 ? n : DEFAULT_PAGE_LIMIT
}

async function showLogs(body: HTMLElement, params: URLSearchParams): Promise<void> {
  const raw: Record<string, string> = {}
  for (const field of FILTER_FIELDS) {
    const value = params.get(field)?.trim()
    if (value) raw[field] = value
  }
  let filter: QueryFilter
  try {
    filter = parseQueryFilter(raw)
  } catch (err) {
    setStatus('', `Filter not applied: ${(err as Error).message}`)
    hideReport()
    return
  }
  const network = await getJson<unknown>('/api/v1/network')
  let trusted: NetworkKeys
  let history: MembershipHistory
  try {
    if (!network.ok)
      throw new UntrustedNetwork(`the node did not send its network.json (HTTP ${network.status})`)
    trusted = trustedNetworkOf(network.body)
  } catch (err) {
    if (!(err instanceof UntrustedNetwork)) throw err
    setStatus('warning', `Not verified: ${err.message}. No logs are shown.`)
    hideReport()
    return
  }
  const pin = checkNetworkPin(trusted.networkId)
  if (pin.state === 'changed') {
    showNetwork(trusted.networkId, `this browser pinned ${shortNetworkId(pin.pin.networkId)}`)
    setStatus(
      'warning',
      `Warning: the network changed. This node now serves network ${shortNetworkId(trusted.networkId)}, ` +
        `not ${shortNetworkId(pin.pin.networkId)}, which this browser pinned on ${timestamp(pin.pin.pinnedAt)} UTC. ` +
        'Nothing is verified and no logs are shown. If your hospital announced a new network, ' +
        'compare its network id with the new one, then clear this site’s data in your browser to trust it.',
    )
    hideReport()
    return
  }
  try {
    // The pinned genesis, then the signed membership changes, each checked here.
    history = await followServedMembership((network.body as { networkJson: unknown }).networkJson)
  } catch (err) {
    if (!(err instanceof UntrustedNetwork)) throw err
    showNetwork(trusted.networkId, 'the membership chain was refused')
    setStatus('warning', `Not verified: ${err.message}. No logs are shown.`)
    hideReport()
    return
  }
  const patient = body.dataset.patient
  const loader = new TrailLoader(
    history.current.keys,
    filter,
    patient !== undefined ? { patientId: patient } : {},
    pageLimitOf(params),
    params.get('cursor') ?? undefined,
    history,
  )
  try {
    await loader.load()
  } catch (err) {
    if (!(err instanceof NodeRefusal)) throw err
    showRefusal(err)
    hideReport()
    showNetwork(
      trusted.networkId,
      pin.state === 'pinned'
        ? pinNote(pin, trusted.networkId, false)
        : 'not pinned: nothing verified yet',
    )
    return
  }
  const verified = loader.failures.length === 0
  showNetwork(trusted.networkId, pinNote(pin, trusted.networkId, verified))
  showReport(body, loader, (network.body as { networkJson?: unknown }).networkJson)
}

/** First use: pins the network once an answer verified against it. Says where the pin stands. */
function pinNote(pin: PinCheck, networkId: string, verified: boolean): string {
  if (pin.state === 'pinned') return `pinned in this browser on ${timestamp(pin.pin.pinnedAt)} UTC`
  if (pin.state === 'unavailable') return 'not pinned: this browser keeps no data for this site'
  if (!verified) return 'not pinned: the data did not verify'
  return pinNetwork(networkId)
    ? 'seen for the first time, pinned in this browser now: compare it with the network id your hospital publishes'
    : 'not pinned: this browser keeps no data for this site'
}

function showNetwork(networkId: string, note: string): void {
  ;(document.getElementById('network-id') as HTMLElement).textContent = shortNetworkId(networkId)
  ;(document.getElementById('network-note') as HTMLElement).textContent = note
}
