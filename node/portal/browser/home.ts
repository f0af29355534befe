import type { EncodedEntry } from '../../core/entry.ts'
import {
  type NetworkKeys,
  parseQueryFilter,
  type QueryFilter,
  type QueryVerification,
  SEED_COLUMNS,
  seedRow,
  shortNetworkId,
  timestamp,
  verifyQueryAnswer,
} from '../../core/trust/index.ts'
import { getJson, postJson } from './api.ts'
import { mountEnrollForm } from './enroll.ts'
import { checkNetworkPin, type PinCheck, pinNetwork } from './network-pin.ts'
import { trustedNetworkOf, UntrustedNetwork } from './network-trust.ts'

const FILTER_FIELDS = ['patient', 'actor', 'action', 'resource', 'from', 'to'] as const

/** The signed-in page: logout, and (for active accounts) the verified logs table. */
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

export async function logOut(): Promise<void> {
  await postJson('/api/v1/auth/logout', {})
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
    return
  }
  const cursor = params.get('cursor') ?? undefined
  const query = new URLSearchParams(filter as Record<string, string>)
  if (cursor) query.set('cursor', cursor)
  const [network, answer] = await Promise.all([
    getJson<unknown>('/api/v1/network'),
    getJson<unknown>(`/api/v1/query?${query}`),
  ])
  let trusted: NetworkKeys
  try {
    if (!network.ok)
      throw new UntrustedNetwork(`the node did not send its network.json (HTTP ${network.status})`)
    trusted = trustedNetworkOf(network.body)
  } catch (err) {
    if (!(err instanceof UntrustedNetwork)) throw err
    setStatus('warning', `Not verified: ${err.message}. No logs are shown.`)
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
    return
  }
  if (!answer.ok) {
    const error = (answer.body as { error?: { message?: string } }).error
    setStatus('', `The node refused the query: ${error?.message ?? `HTTP ${answer.status}`}`)
    return
  }
  const patient = body.dataset.patient
  const result = verifyQueryAnswer(answer.body, {
    keys: trusted,
    filter,
    ...(patient !== undefined ? { scope: { patientId: patient } } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  })
  showStatus(result)
  showNetwork(trusted.networkId, pinNote(pin, trusted.networkId, result.failures.length === 0))
  showRows(result)
  const next = (answer.body as { next?: unknown }).next
  const link = document.getElementById('next') as HTMLAnchorElement
  if (typeof next === 'string') {
    const nextParams = new URLSearchParams(params)
    nextParams.set('cursor', next)
    link.href = `/home?${nextParams}`
    link.hidden = false
  }
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

function setStatus(kind: string, text: string): void {
  const status = document.getElementById('integrity') as HTMLElement
  status.className = kind
  status.textContent = text
}

/** "verified: cosigned by k of n nodes at T", or "data compromised" naming each bad entry. */
function showStatus(result: QueryVerification): void {
  if (result.failures.length > 0) {
    const ids = result.failures.map((f) => f.entryId)
    setStatus(
      'compromised',
      `data compromised: entries ${ids.join(', ')} failed verification. Admins have been notified.`,
    )
    const list = document.getElementById('failures') as HTMLElement
    for (const f of result.failures) {
      const item = document.createElement('li')
      item.textContent = `${f.entryId}: ${f.reason}`
      list.append(item)
    }
    return
  }
  const c = result.cosignedBy
  const signedOnly = result.verified.filter((v) => v.integrity === 'signed').length
  const base = c
    ? `data integrity status: verified — cosigned by ${c.count} of ${c.of} nodes at ${c.time}`
    : 'data integrity status: verified — signed by each origin (no cosigned checkpoint yet)'
  setStatus(
    'verified',
    signedOnly > 0 && c ? `${base}; ${signedOnly} newer entries signed by their origin only` : base,
  )
}

function showRows(result: QueryVerification): void {
  const tbody = document.querySelector('#logs tbody') as HTMLElement
  const rows: EncodedEntry[] = result.verified
    .filter((v) => v.entry.entry.kind === 'event')
    .map((v) => v.entry)
  for (const entry of rows) {
    const tr = document.createElement('tr')
    seedRow(entry, 2000).forEach((cell, i) => {
      const td = document.createElement(i === 0 ? 'th' : 'td')
      if (i === 0) td.setAttribute('scope', 'row')
      if (i === 7) td.className = 'notes'
      // On a phone each row is a card; the stylesheet labels each cell with its column.
      td.dataset.label = SEED_COLUMNS[i] ?? ''
      // textContent: notes are whatever the EHR wrote, markup included; never parsed as HTML.
      td.textContent = cell
      tr.append(td)
    })
    tbody.append(tr)
  }
  const caption = document.getElementById('logs-caption') as HTMLElement
  caption.textContent = `Audit log entries (${rows.length} shown, each verified in this browser)`
}
