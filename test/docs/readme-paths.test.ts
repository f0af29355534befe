import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')

describe("the README's commands after npm start", () => {
  // npm start (scripts/demo.ts) writes its network.json to data/demo/ unless EHRLOG_DEMO_DIR
  // says otherwise: the README's auditor commands must name that file, run from the checkout.
  it('name the network.json npm start writes', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const demo = await readFile(join(ROOT, 'scripts', 'demo.ts'), 'utf8')
    expect(demo).toContain("process.env.EHRLOG_DEMO_DIR ?? join(ROOT, 'data', 'demo')")
    expect(demo).toContain("join(DIR, 'network.json')")
    const paths = [...readme.matchAll(/^ehrlog .*--network (\S+)/gm)].map((m) => m[1])
    expect(paths.length).toBeGreaterThanOrEqual(3)
    for (const path of paths) expect(path).toBe('data/demo/network.json')
  })
})
