import { verifyCosignedCheckpoint } from '../../core/checkpoint.ts'
import { COUNTER_NAMES, type VerifiedStats, verifyStatsBundle } from '../../core/stats/index.ts'
import { checkpointKeysOf } from '../../core/trust/network-keys.ts'
import { trustedNetworkOf } from '../../portal/browser/network-trust.ts'

/*
 * The public statistics page (/stats): fetches the bundles this node combined, verifies each
 * one here in the browser exactly as `ehrlog stats verify` does (shares, totals, each
 * hospital's anchor into a checkpoint whose cosignatures are checked against the network.json
 * the node serves, and the key derived from the anchored dkg-key and dealing entries), and plots the verified totals per period. Only totals over groups are
 * shown; a bundle that fails is listed with why and plotted nowhere.
 */

const $ = (id: string) => document.getElementById(id)!
const SVG = 'http://www.w3.org/2000/svg'

async function main(): Promise<void> {
  const status = $('stats-status')
  const started = performance.now()
  const network = trustedNetworkOf(await (await fetch('/api/v1/network')).json())
  const list = (await (await fetch('/api/v1/stats/bundles')).json()) as { bundles: string[] }
  const verified: Array<VerifiedStats & { file: string }> = []
  const failures = $('stats-failures')
  for (const file of list.bundles) {
    const bytes = new Uint8Array(
      await (await fetch(`/api/v1/stats/bundles/${encodeURIComponent(file)}`)).arrayBuffer(),
    )
    try {
      const v = verifyStatsBundle(bytes, {
        requireAnchors: true,
        // The key comes from the bundle's anchored dkg-key and dealing entries, checked here.
        requireKeyAnchors: true,
        checkCheckpoint: (c) => void verifyCosignedCheckpoint(c, checkpointKeysOf(network)),
      })
      verified.push({ ...v, file })
    } catch (err) {
      const li = document.createElement('li')
      li.textContent = `${file}: ${(err as Error).message}`
      failures.append(li)
    }
  }
  const ms = Math.round(performance.now() - started)
  status.textContent = `${verified.length} of ${list.bundles.length} bundle(s) verified in your browser in ${ms} ms${failures.childElementCount ? '; the failed ones are listed below and not plotted' : ''}.`
  status.dataset.verified = String(verified.length)
  status.dataset.failed = String(failures.childElementCount)
  const select = $('stats-counter') as HTMLSelectElement
  for (const name of COUNTER_NAMES) {
    const option = document.createElement('option')
    option.value = name
    option.textContent = name
    select.append(option)
  }
  // The first counter with a published total, so the plot starts with something to see.
  const first = COUNTER_NAMES.findIndex((_, l) => verified.some((v) => v.totals[l] !== undefined))
  select.value = COUNTER_NAMES[Math.max(0, first)]!
  const draw = () => render(verified, COUNTER_NAMES.indexOf(select.value))
  select.addEventListener('change', draw)
  draw()
}

function render(verified: Array<VerifiedStats & { file: string }>, cell: number): void {
  const rows = [...verified].sort((a, b) =>
    a.period < b.period ? -1 : a.period > b.period ? 1 : 0,
  )
  const body = $('stats-table').querySelector('tbody')!
  body.replaceChildren(
    ...rows.map((v) => {
      const tr = document.createElement('tr')
      for (const text of [
        v.period,
        v.file.split('.')[1] ?? '',
        String(v.origins.length),
        v.totals[cell] === undefined ? 'withheld' : String(v.totals[cell]),
      ]) {
        const td = document.createElement('td')
        td.textContent = text
        tr.append(td)
      }
      return tr
    }),
  )
  const width = 640
  const height = 240
  const pad = 36
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('width', String(width))
  svg.setAttribute('height', String(height))
  const max = Math.max(1, ...rows.map((v) => v.totals[cell] ?? 0))
  const step = (width - 2 * pad) / Math.max(1, rows.length)
  const axis = document.createElementNS(SVG, 'line')
  for (const [k, v] of Object.entries({
    x1: pad,
    y1: height - pad,
    x2: width - pad,
    y2: height - pad,
    stroke: '#444',
  }))
    axis.setAttribute(k, String(v))
  svg.append(axis)
  rows.forEach((v, i) => {
    const total = v.totals[cell]
    const h = total === undefined ? 0 : ((height - 2 * pad) * total) / max
    const x = pad + i * step + step * 0.15
    const bar = document.createElementNS(SVG, 'rect')
    for (const [k, val] of Object.entries({
      x,
      y: height - pad - h,
      width: step * 0.7,
      height: h,
      fill: '#2b6cb0',
    }))
      bar.setAttribute(k, String(val))
    bar.setAttribute('data-period', v.period)
    const label = document.createElementNS(SVG, 'text')
    for (const [k, val] of Object.entries({
      x: x + step * 0.35,
      y: height - pad + 14,
      'text-anchor': 'middle',
      'font-size': 10,
    }))
      label.setAttribute(k, String(val))
    label.textContent = v.period
    const value = document.createElementNS(SVG, 'text')
    for (const [k, val] of Object.entries({
      x: x + step * 0.35,
      y: height - pad - h - 4,
      'text-anchor': 'middle',
      'font-size': 11,
    }))
      value.setAttribute(k, String(val))
    value.textContent = total === undefined ? 'withheld' : String(total)
    svg.append(bar, label, value)
  })
  $('stats-plot').replaceChildren(svg)
}

main().catch((err: unknown) => {
  $('stats-status').textContent = `could not check the statistics: ${(err as Error).message}`
  $('stats-status').dataset.error = 'true'
})
