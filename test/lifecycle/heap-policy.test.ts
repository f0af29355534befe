// A started node fixes V8's old-generation growing factor (node/heap-policy.ts). The witness
// is V8's own trace: with --trace-gc-verbose every limit V8 sets after a full collection is
// printed as "[HeapController] Limit: old size: … KB, new limit: … KB (factor)". A real node
// (network init, EhrlogNode.start: LevelDB, libp2p, HTTP on loopback) runs in a child
// process, which then makes garbage that survives into the old generation.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { applyHeapPolicy, HEAP_GROWING_PERCENT } from '../../node/heap-policy.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const MARK = 'node started'

/** Starts a node in `dir` (or not: "none"), prints MARK, then churns the old generation. */
const CHILD = `
const [dir, mode] = process.argv.slice(1)
await import(${JSON.stringify(join(ROOT, 'node', 'shim.ts'))}) // libp2p needs it on Node 20
const { initNetwork, startNodes } = await import(${JSON.stringify(join(ROOT, 'scripts', 'in-process-network.ts'))})
let nodes = []
if (mode === 'node') nodes = await startNodes((await initNetwork(dir, 1)).dirs)
console.log(${JSON.stringify(MARK)})
const live = []
for (let i = 0; i < 300_000; i++) live.push({ i, s: 'live-' + i })
let kept = []
for (let r = 0; r < 4000; r++) {
  for (let i = 0; i < 1000; i++) kept.push({ r, i, s: 'kept-' + i })
  if (kept.length > 60_000) kept = kept.slice(30_000)
}
await Promise.all(nodes.map((n) => n.stop()))
`

/** The growing factors of the limits V8 set after MARK. */
async function factorsAfterStart(dir: string, mode: 'node' | 'none'): Promise<number[]> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--trace-gc-verbose', '--input-type=module', '-e', CHILD, dir, mode],
    { cwd: ROOT, maxBuffer: 64 * 2 ** 20 },
  )
  const after = stdout.slice(stdout.indexOf(`${MARK}\n`))
  expect(after.startsWith(MARK)).toBe(true)
  return [...after.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)$/gm)].map((m) => Number(m[1]))
}

describe('the heap policy', () => {
  const tempDir = useTempDirs()

  it('a started node runs with the fixed factor; without a node V8 picks its own', async () => {
    const withNode = await factorsAfterStart(await tempDir(), 'node')
    expect(withNode.length).toBeGreaterThan(0)
    expect(new Set(withNode)).toEqual(new Set([1 + HEAP_GROWING_PERCENT / 100]))
    // The control: the same churn without a node gets V8's dynamic factor (not only 2).
    const alone = await factorsAfterStart(await tempDir(), 'none')
    expect(alone.length).toBeGreaterThan(0)
    expect(alone.some((f) => f !== 1 + HEAP_GROWING_PERCENT / 100)).toBe(true)
  }, 60_000)

  it("leaves an operator's own --heap-growing-percent alone", () => {
    expect(applyHeapPolicy(['--heap-growing-percent=50'])).toBe(false)
    expect(applyHeapPolicy(['--heap-growing-percent', '50'])).toBe(false)
  })
})
