import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import { prebuiltWorker } from './source-root.ts'

const bundles = new Map<string, string>()

/**
 * A worker's TypeScript entry bundled into one CommonJS script, for `new Worker(source,
 * { eval: true })`. The store is TypeScript run through tsx, and a worker does not inherit
 * its parent's loader: registering tsx in each worker cost ~12 MiB of RSS more per worker
 * (a loader thread and the transformer) than this bundle, made once per process (~100 ms).
 */
export function workerSource(entry: URL): string {
  const path = fileURLToPath(entry)
  let source = bundles.get(path)
  // From the prebuilt bundle: its worker scripts, built with it by scripts/build.mjs.
  const prebuilt = source === undefined ? prebuiltWorker(entry) : undefined
  if (prebuilt) {
    try {
      source = readFileSync(prebuilt, 'utf8')
      bundles.set(path, source)
    } catch {
      // not built (an older dist/): bundle it now
    }
  }
  if (source === undefined) {
    const result = buildSync({
      entryPoints: [path],
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    })
    source = result.outputFiles[0]?.text
    if (!source) throw new Error(`esbuild produced no script for ${path}`)
    bundles.set(path, source)
  }
  return source
}
