import { dataOf, newestFirst, type ReportRow, type Section, whatOf, whoOf } from './report-rows.ts'

/** Rows shown at first, and added by each "Show older" (all of them print). */
export const ROWS_PER_STEP = 50

/** The columns pages.ts puts in each table's header, in order; `patient` for auditors only. */
export const COLUMNS = [
  ['when', 'When'],
  ['who', 'Who'],
  ['what', 'What'],
  ['data', 'Data'],
  ['where', 'Where'],
  ['patient', 'Patient'],
  ['notes', 'Notes'],
  ['entry', 'Entry'],
] as const
export type Column = (typeof COLUMNS)[number][0]

const TABLE_ID: Record<Section, string> = { accesses: 'accesses', views: 'views' }
const EMPTY: Record<Section, string> = {
  accesses: 'No access recorded.',
  views: 'Nobody looked at this audit trail.',
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  // textContent: every text comes from entries (the EHR's notes may hold markup): never parsed.
  if (text !== undefined) e.textContent = text
  if (className) e.className = className
  return e
}

/**
 * One line of a cell. Browsers may break a line after a hyphen ("hospital-" / "a"), which
 * reads as a word cut in two: tokens holding one are kept whole (span.nw), and the line still
 * wraps between words.
 */
function line(text: string, className = ''): HTMLElement {
  const out = el('span', undefined, `line ${className}`.trim())
  for (const part of text.split(/(\s+)/)) {
    if (part === '') continue
    out.append(/-/.test(part) ? el('span', part, 'nw') : document.createTextNode(part))
  }
  return out
}

/** One cell's content: a main line and optional smaller lines. */
function cellOf(row: ReportRow, column: Column, format: Intl.DateTimeFormat): HTMLElement[] {
  switch (column) {
    case 'when': {
      const time = el('time', format.format(new Date(row.time)), 'line')
      time.dateTime = row.time
      return [time]
    }
    case 'who': {
      const parts: HTMLElement[] = [line(whoOf(row))]
      if (row.actorName !== undefined) parts.push(line(row.actorId, 'sub'))
      if (row.selfRegistered) parts.push(el('span', 'self-registered, not vouched for', 'badge'))
      return parts
    }
    case 'what': {
      const failed = row.outcome === 'failure' && row.section === 'accesses' ? ' (failed)' : ''
      const parts = [line(`${whatOf(row)}${failed}`)]
      if (row.account) parts.push(line(row.account, 'sub'))
      return parts
    }
    case 'data':
      return [line(dataOf(row))]
    case 'where':
      return [line(row.origin)]
    case 'patient':
      return [line(row.patientId)]
    case 'notes':
      // Free text from the EHR: it may wrap anywhere a token is longer than the column.
      return [el('span', row.notes, 'line')]
    case 'entry':
      return [
        line(row.id),
        line(
          row.integrity === 'cosigned'
            ? 'cosigned'
            : `signed by ${row.origin}, not yet proven complete`,
          'sub',
        ),
      ]
  }
}

/**
 * Fills one section's table, newest first: the first `shown` rows visible, the rest marked
 * `older` (hidden on screen, printed), and its "Show older" button.
 */
export function renderSection(
  section: Section,
  rows: readonly ReportRow[],
  columns: readonly Column[],
  format: Intl.DateTimeFormat,
  shown: number,
): void {
  const table = document.getElementById(TABLE_ID[section]) as HTMLTableElement
  const tbody = table.tBodies[0] as HTMLTableSectionElement
  const sorted = newestFirst(rows.filter((r) => r.section === section))
  tbody.replaceChildren()
  if (sorted.length === 0) {
    const tr = el('tr')
    const td = el('td', EMPTY[section], 'empty')
    td.colSpan = columns.length
    tr.append(td)
    tbody.append(tr)
  }
  sorted.forEach((row, i) => {
    const tr = el('tr')
    tr.dataset.entry = row.id
    if (i >= shown) tr.className = 'older'
    for (const column of columns) {
      const cell = el(column === 'when' ? 'th' : 'td')
      if (column === 'when') cell.scope = 'row'
      cell.dataset.col = column
      // On a phone each row is a card; the stylesheet labels each cell with its column.
      cell.dataset.label = COLUMNS.find(([c]) => c === column)?.[1] ?? column
      // One box per cell, so a phone's card grid has two items: the label and this.
      const content = el('div')
      content.append(...cellOf(row, column, format))
      cell.append(content)
      tr.append(cell)
    }
    tbody.append(tr)
  })
  const caption = table.caption as HTMLElement
  const visible = Math.min(shown, sorted.length)
  // All rows print; on screen the first `visible`, and the button says how many more.
  caption.textContent = `${sorted.length} ${sorted.length === 1 ? 'entry' : 'entries'}, newest first`
  const older = document.querySelector<HTMLButtonElement>(`button.older[data-for="${section}"]`)
  if (older) {
    const more = Math.min(ROWS_PER_STEP, sorted.length - visible)
    older.hidden = more <= 0
    older.textContent = `Show ${more} older`
  }
}
