// Runs in Chromium (bundled by scripts/bench/stats-browser.ts): times verifyStatsBundle, the
// check the public /stats page makes, on bundle bytes handed in as hex.
import { verifyStatsBundle } from '../../node/core/stats/index.ts'

;(globalThis as unknown as { benchStatsVerify: unknown }).benchStatsVerify = (input: {
  hex: string
  runs: number
}): number[] | string => {
  try {
    const bytes = new Uint8Array(input.hex.length / 2)
    for (let i = 0; i < bytes.length; i++)
      bytes[i] = Number.parseInt(input.hex.slice(2 * i, 2 * i + 2), 16)
    const times: number[] = []
    for (let r = 0; r < input.runs; r++) {
      const start = performance.now()
      verifyStatsBundle(bytes, { requireAnchors: false })
      times.push(performance.now() - start)
    }
    return times
  } catch (err) {
    return (err as Error).message
  }
}
