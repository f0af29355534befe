import { seedRow } from '../../../client/format/seed-columns.ts'
import type { EncodedEntry } from '../../core/entry.ts'
import { fromHex } from '../../core/hex.ts'
import {
  parseQueryFilter,
  type QueryFilter,
  type QueryTrust,
  type QueryVerification,
  verifyQueryAnswer,
} from '../../core/query-answer.ts'
import type { PortalNetwork } from '../portal-routes.ts'
import { getJson, postJson } from './api.ts'

const FILTER_FIELDS = ['patient', 'actor', 'action', 'resource', 'from', 'to'] as const

/** The signed-in page: logout, and (for active accounts) the verified logs table. */
export function setUpHome(body: HTMLElement): void {
  document.getElementById('logout')?.addEventListener('click', () => {
    logOut().finally(() => location.assign('/login'))
  })
  if (body.dataset.status !== 'active') return
  const params = new URLSearchParams(location.search)
  const form = document.getElementById('filter-form') as HTMLFormElement | null
  for (const field of FILTER_FIELDS) {
    const input = form?.elements.namedItem(field) as HTMLInputElement | null
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
    getJson<PortalNetwork>('/api/v1/network'),
    getJson<unknown>(`/api/v1/query?${query}`),
  ])
  if (!answer.ok) {
    const error = (answer.body as { error?: { message?: string } }).error
    setStatus('', `The node refused the query: ${error?.message ?? `HTTP ${answer.status}`}`)
    return
  }
  const patient = body.dataset.patient
  const trust: QueryTrust = {
    networkId: fromHex(network.body.networkId, 32) ?? new Uint8Array(32),
    blsKeys: network.body.members.map((m) => fromHex(m.blsPublicKey, 48) ?? new Uint8Array(48)),
    ed25519Keys: new Map(
      network.body.members.map((m) => [
        m.name,
        fromHex(m.ed25519PublicKey, 32) ?? new Uint8Array(32),
      ]),
    ),
    filter,
    ...(patient !== undefined ? { scope: { patientId: patient } } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  }
  const result = verifyQueryAnswer(answer.body, trust)
  showStatus(result)
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
      // textContent: notes are whatever the EHR wrote, markup included; never parsed as HTML.
      td.textContent = cell
      tr.append(td)
    })
    tbody.append(tr)
  }
  const caption = document.getElementById('logs-caption') as HTMLElement
  caption.textContent = `Audit log entries (${rows.length} shown, each verified in this browser)`
}
