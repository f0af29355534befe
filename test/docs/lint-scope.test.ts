import { execFile } from 'node:child_process'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { useTempDirs } from '../helpers/temp-dir.ts'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome')
const tempDir = useTempDirs()

/**
 * `npm start` writes data/demo/*.json, and the README's auditor commands write trail.json and
 * kept.json in the folder they run in: `npm test` afterwards must not lint them (it did).
 */
describe("the lint's scope", () => {
  it('checks the sources and leaves the demo data and the files the README writes alone', async () => {
    const dir = await tempDir()
    await copyFile(join(ROOT, 'biome.json'), join(dir, 'biome.json'))
    await mkdir(join(dir, 'data', 'demo'), { recursive: true })
    const unformatted = '{"a":1,\n"b":   [1,2]}\n'
    await writeFile(join(dir, 'data', 'demo', 'network.json'), unformatted)
    await writeFile(join(dir, 'trail.json'), unformatted)
    await writeFile(join(dir, 'kept.json'), unformatted)
    await mkdir(join(dir, 'node'))
    await writeFile(join(dir, 'node', 'ok.ts'), "export const ok = 'yes'\n")
    const clean = await run(BIOME, ['check', '.'], { cwd: dir })
    expect(clean.stdout + clean.stderr).toMatch(/Checked 2 files/) // node/ok.ts and biome.json

    // The same unformatted JSON inside a source folder is still an error.
    await writeFile(join(dir, 'node', 'bad.json'), unformatted)
    await expect(run(BIOME, ['check', '.'], { cwd: dir })).rejects.toMatchObject({ code: 1 })
  })
})
