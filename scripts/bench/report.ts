import { cpus, totalmem } from 'node:os'

export interface Figure {
  name: string
  value: number
  unit: string
  target?: string
  /** Whether the target is met; undefined when there is no target. */
  meets?: boolean
  note?: string
}

export function machine(): Record<string, string | number> {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
  }
}

/** Prints a benchmark's figures as a table and as one JSON line (for docs/performance.md). */
export function printFigures(title: string, figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.name,
    `${formatNumber(f.value)} ${f.unit}`,
    f.target ?? '',
    f.meets === undefined ? '' : f.meets ? 'yes' : 'NO',
  ])
  const headers = ['figure', 'measured', 'target', 'met']
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')
  console.log(`\n${title}  (${JSON.stringify(machine())})`)
  console.log(line(headers))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) console.log(line(r))
  console.log(JSON.stringify({ bench: title, machine: machine(), figures }))
}

function formatNumber(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)
}

/** Tracks the highest RSS seen while work runs. */
export function rssSampler(): { stop: () => number } {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 50)
  return {
    stop: () => {
      clearInterval(timer)
      return Math.max(peak, process.memoryUsage().rss)
    },
  }
}
