import type { RebuildProgress } from './index-service.ts'

const WIDTH = 30

/**
 * One line of the index build's progress for a terminal or log, e.g.
 * `index [##########--------------------]  33 % postings 330,000 / 1,000,000 entries`.
 * The node prints it while it starts (the index is built from the postings at every start).
 */
export function progressLine(p: RebuildProgress): string {
  const share = p.total === 0 ? 1 : Math.min(1, p.done / p.total)
  const filled = Math.round(share * WIDTH)
  const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`
  const percent = String(Math.floor(share * 100)).padStart(3)
  const n = (x: number) => x.toLocaleString('en-US')
  return `index [${bar}] ${percent} % ${p.phase} ${n(p.done)} / ${n(p.total)} entries`
}
