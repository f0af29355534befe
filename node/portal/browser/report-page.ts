import { changesUpTo } from '../../core/trust/index.ts'
import { bundleJson } from './report-bundle.ts'
import {
  type ReportRow,
  reportCsv,
  reportRowsOf,
  type Section,
  timeFormatter,
} from './report-rows.ts'
import { COLUMNS, type Column, ROWS_PER_STEP, renderSection } from './report-view.ts'
import { trailCompleteness } from './trail-completeness.ts'
import { NodeRefusal, type TrailLoader } from './trail-loader.ts'

export function setStatus(kind: string, text: string): void {
  const status = document.getElementById('integrity') as HTMLElement
  status.className = kind
  status.textContent = text
}

/**
 * A refused query. STORE_CORRUPT (503, node/api/http-errors.ts) means the node found damage in
 * its own replica and is repairing it from its peers: say so, rather than a generic error.
 */
export function showRefusal(err: NodeRefusal): void {
  if (err.code === 'STORE_CORRUPT')
    setStatus(
      'warning',
      'This node found damage in its copy of the log and is repairing it from the other hospitals’ nodes. ' +
        'Nothing can be shown until it verifies again: please try again in a few minutes.',
    )
  else setStatus('', `The node refused the query: ${err.message}`)
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T
}

/**
 * The access report: the verification status, what it does and does not prove, both sections
 * newest first, how much is loaded ("Load more" for the node's next pages) and the downloads.
 */
export function showReport(body: HTMLElement, loader: TrailLoader, networkJson: unknown): void {
  const format = timeFormatter()
  const auditor = body.dataset.patient === undefined
  const columns: Column[] = COLUMNS.map(([c]) => c).filter((c) => auditor || c !== 'patient')
  const shown: Record<Section, number> = { accesses: ROWS_PER_STEP, views: ROWS_PER_STEP }
  let rows: ReportRow[] = []
  let links: string[] = []

  const render = (): void => {
    rows = reportRowsOf(loader.verified)
    showStatus(loader, rows.length, format)
    showCompleteness(body, loader)
    for (const section of ['accesses', 'views'] as const)
      renderSection(section, rows, columns, format, shown[section])
    const zone = format.resolvedOptions().timeZone
    byId('report-zone').textContent = `Times are in your browser’s time zone, ${zone}.`
    showLoaded(loader, rows.length)
    for (const section of ['accesses', 'views'] as const) {
      const link = byId(`jump-${section}`)
      link.dataset.label ??= link.textContent ?? ''
      const n = rows.filter((r) => r.section === section).length
      link.textContent = `${link.dataset.label} (${n})`
    }
    links = offerDownloads(body, loader, rows, format, networkJson, links)
  }

  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('button.older')))
    button.addEventListener('click', () => {
      const section = button.dataset.for as Section
      shown[section] += ROWS_PER_STEP
      renderSection(section, rows, columns, format, shown[section])
    })
  const more = byId<HTMLButtonElement>('load-more')
  more.addEventListener('click', () => {
    more.disabled = true
    loader
      .load()
      .then(render, (err: unknown) => {
        if (err instanceof NodeRefusal) showRefusal(err)
        else setStatus('', `could not check the data: ${(err as Error).message}`)
      })
      .finally(() => {
        more.disabled = false
      })
  })
  byId('print').addEventListener('click', () => window.print())
  render()
}

/** "verified — cosigned by k of n nodes at T", or "data compromised" naming each bad entry. */
function showStatus(loader: TrailLoader, count: number, format: Intl.DateTimeFormat): void {
  const list = byId('failures')
  list.replaceChildren()
  if (loader.failures.length > 0) {
    const ids = loader.failures.map((f) => f.entryId)
    setStatus(
      'compromised',
      `data compromised: entries ${ids.join(', ')} failed verification. Admins have been notified.`,
    )
    for (const f of loader.failures) {
      const item = document.createElement('li')
      item.textContent = `${f.entryId}: ${f.reason}`
      list.append(item)
    }
    return
  }
  const c = loader.last?.cosignedBy
  const signedOnly = loader.verified.filter((v) => v.integrity === 'signed').length
  const entries = `${count} ${count === 1 ? 'entry' : 'entries'}`
  const base = c
    ? `data integrity status: verified — cosigned by ${c.count} of ${c.of} nodes at ${format.format(new Date(c.time))}: each of the ${entries} below is proven in this browser`
    : `data integrity status: verified — signed by each hospital (no cosigned checkpoint yet): each of the ${entries} below is proven in this browser`
  setStatus(
    'verified',
    signedOnly > 0 && c
      ? `${base}; ${signedOnly} newer ${signedOnly === 1 ? 'entry is signed by its hospital' : 'entries are signed by their hospital'}, not yet cosigned`
      : base,
  )
}

/**
 * What is and is not proven: the completeness of the patient's trail, checked here once every
 * page is loaded (trail-completeness.ts). "complete: …" only when the proof holds; a refusal
 * names what is wrong; without a proof the page says so and claims nothing more.
 */
function showCompleteness(body: HTMLElement, loader: TrailLoader): void {
  const note = byId('completeness')
  const who = body.dataset.patient
  const cli = document.createElement('code')
  cli.className = 'nw'
  cli.textContent = who ? `ehrlog query --patient ${who}` : 'ehrlog query'
  const verdict = trailCompleteness(loader)
  note.dataset.state = verdict.state
  switch (verdict.state) {
    case 'complete':
      note.replaceChildren(
        ...verdict.lines.flatMap((line, i) =>
          i === 0 ? unbrokenTimes(line) : [document.createElement('br'), ...unbrokenTimes(line)],
        ),
      )
      return
    case 'refused':
      note.textContent = `Not proven complete: ${verdict.reason}. Entries may be missing from this report; the entries shown are verified one by one.`
      return
    case 'unproven':
      note.replaceChildren(
        `Every entry shown is verified; that none was left out is not proven ${verdict.reason.replace(/^completeness: not proven /, '')}. The command‑line tool’s cross‑check with a second node (`,
        cli,
        ') checks it another way.',
      )
      return
    case 'partial':
      note.textContent =
        'Completeness is checked once every page is loaded: use “Load more” until all entries are loaded.'
      return
    case 'not-applicable':
      note.replaceChildren(
        'Every entry shown is verified. Completeness is proven for a patient’s whole trail only, not for a filtered view; the command‑line tool’s cross‑check (',
        cli,
        who ? '' : ' with the same filters',
        ') checks this view against a second node.',
      )
  }
}

/** The line with each ISO 8601 time kept on one line (a browser may break after its hyphens). */
function unbrokenTimes(line: string): (string | Node)[] {
  return line.split(/(\d{4}-\d\d-\d\dT[\d:.]+Z)/).map((part, i) => {
    if (i % 2 === 0) return part
    const time = document.createElement('span')
    time.className = 'nowrap'
    time.textContent = part
    return time
  })
}

function showLoaded(loader: TrailLoader, count: number): void {
  const requests = `${loader.answers.length} ${loader.answers.length === 1 ? 'request' : 'requests'}`
  byId('loaded').textContent = loader.done
    ? `All ${count} entries loaded (${requests} to the node; each request is itself recorded in the audit trail).`
    : `${count} entries loaded so far (${requests}); the node has more. The newest-first order covers what is loaded.`
  byId<HTMLButtonElement>('load-more').hidden = loader.done
}

/** The CSV and the offline bundle as download links (object URLs, replaced on each render). */
function offerDownloads(
  body: HTMLElement,
  loader: TrailLoader,
  rows: readonly ReportRow[],
  format: Intl.DateTimeFormat,
  networkJson: unknown,
  previous: string[],
): string[] {
  for (const url of previous) URL.revokeObjectURL(url)
  const name = `ehrlog-${body.dataset.patient ?? 'audit'}-${new Date().toISOString().slice(0, 10)}`
  const csv = URL.createObjectURL(new Blob([reportCsv(rows, format)], { type: 'text/csv' }))
  const bundle = URL.createObjectURL(
    new Blob(
      [
        bundleJson({
          createdBy: body.dataset.username ?? '',
          filter: loader.filter,
          scope: loader.scope,
          startCursor: loader.startCursor,
          network: networkJson,
          membership: loader.history
            ? changesUpTo(
                loader.history,
                loader.pages.flatMap((p) =>
                  p.result.checkpoint ? [p.result.checkpoint.checkpoint.membership] : [],
                ),
              )
            : [],
          answers: loader.answers,
          next: loader.next,
        }),
      ],
      { type: 'application/json' },
    ),
  )
  const csvLink = byId<HTMLAnchorElement>('download-csv')
  csvLink.href = csv
  csvLink.download = `${name}.csv`
  const bundleLink = byId<HTMLAnchorElement>('download-bundle')
  bundleLink.href = bundle
  bundleLink.download = `${name}.bundle.json`
  byId('downloads').hidden = false
  return [csv, bundle]
}
