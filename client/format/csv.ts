/**
 * RFC 4180 CSV: every cell quoted when it holds a comma, quote or line break, quotes doubled,
 * lines ended by CRLF. A cell that a spreadsheet would run as a formula (starting with = + - @,
 * tab or carriage return) gets a leading apostrophe: notes and names come from EHR systems
 * and must never execute when an auditor opens the export (OWASP "CSV injection").
 */
export function toCsv(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [headers, ...rows].map((row) => `${row.map(csvCell).join(',')}\r\n`).join('')
}

export function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}
