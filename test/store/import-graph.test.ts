import { readFile } from 'node:fs/promises'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { filesUnder } from '../helpers/temp-dir.ts'

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '../..'))

/** Relative imports (type-only ones too) of every .ts file under `folder`, by file. */
async function importGraph(folder: string): Promise<Map<string, string[]>> {
  const files = (await filesUnder(join(ROOT, folder))).filter((f) => f.endsWith('.ts'))
  const graph = new Map<string, string[]>()
  for (const file of files) {
    const source = await readFile(file, 'utf8')
    const targets = [...source.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)].map((m) =>
      relative(ROOT, normalize(join(dirname(file), m[1]!))),
    )
    graph.set(relative(ROOT, file), targets)
  }
  return graph
}

/** Every cycle found by a depth-first walk, as the files on it. */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string) => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue // outside the folder
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file)
  return cycles
}

describe('the seam between node/store and node/integrity', () => {
  it('finds a cycle where there is one (the check itself can fail)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ])
    expect(cyclesOf(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']])
  })

  it('node/store and node/integrity import no file in a cycle, type imports included', async () => {
    expect(cyclesOf(await importGraph('node/store'))).toEqual([])
    expect(cyclesOf(await importGraph('node/integrity'))).toEqual([])
  })

  it('node/integrity takes from node/store only what its index.ts exports', async () => {
    const graph = await importGraph('node/integrity')
    const deep = [...graph].flatMap(([file, targets]) =>
      targets
        .filter((t) => t.startsWith('node/store/') && t !== 'node/store/index.ts')
        .map((t) => `${file} -> ${t}`),
    )
    expect(deep).toEqual([])
  })

  it('the store hands out no database or cipher: only the named ScrubView', async () => {
    const source = await readFile(join(ROOT, 'node/store/log-store.ts'), 'utf8')
    expect(source).not.toMatch(/get internals\(\)/)
    const index = await readFile(join(ROOT, 'node/store/index.ts'), 'utf8')
    expect(index).toMatch(/export type \{ ScrubView \}/)
    expect(index).not.toMatch(/store-access/)
  })
})
