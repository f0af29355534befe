import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { useLocalNetworks } from './harness.ts'

describe('the log stream of a node process', () => {
  const createNetwork = useLocalNetworks()

  it('is JSON lines only, each with an ISO 8601 time', async () => {
    const net = await createNetwork({ nodes: 1, fileIndex: 5 })
    const m = await net.start('hospital-a')
    await net.stop('hospital-a')
    // stdout and stderr of `ehrlog node start`, as journald would collect them.
    const lines = (await readFile(m.logFile, 'utf8')).split('\n').filter((l) => l !== '')
    expect(lines.length).toBeGreaterThan(2)
    for (const line of lines) {
      let parsed: { time?: unknown; msg?: unknown }
      try {
        parsed = JSON.parse(line)
      } catch {
        throw new Error(`not a JSON line: ${line}`)
      }
      expect(parsed.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }
    expect(lines.some((l) => JSON.parse(l).msg === 'node started')).toBe(true)
  }, 60_000)
})
