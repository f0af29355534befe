import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { sourceUrl } from '../threads/source-root.ts'

const BROWSER_DIR = fileURLToPath(sourceUrl('node/portal/browser/'))

/**
 * Bundles the portal's one script (browser/app.ts with core's verification and login-key
 * code) for browsers, in memory. core/ uses Buffer, node:crypto's SHA-256 and its Ed25519
 * verification: the bundle injects the `buffer` package and aliases node:crypto to a
 * noble-based shim, so core is
 * shared, not copied. Takes ~100 ms; the portal does it once, on the first request.
 */
export function bundlePortalScript(): Promise<string> {
  return bundleForBrowser(`${BROWSER_DIR}app.ts`, 'esm')
}

/**
 * Bundles `entry` for browsers the portal's way (core's Buffer and node:crypto replaced as
 * above), in memory: the portal's script, and the benchmark that times its checks in Chromium.
 */
export async function bundleForBrowser(entry: string, format: 'esm' | 'iife'): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format,
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    alias: { 'node:crypto': `${BROWSER_DIR}node-crypto.ts` },
    inject: [`${BROWSER_DIR}buffer-shim.ts`],
    logLevel: 'silent',
  })
  const file = result.outputFiles[0]
  if (!file) throw new Error(`esbuild produced nothing for ${entry}`)
  return file.text
}
