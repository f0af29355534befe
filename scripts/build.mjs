// `npm run build` (also run by `npm ci` through `prepare`): bundles the CLI and node into
// dist/ so that processes start without compiling TypeScript (tsx), which costs ~35 MiB of
// RSS per process and a second of start-up. Packages stay external (node_modules); worker
// threads and the portal's browser script are still bundled from the sources at run time.
// bin/ehrlog.js uses dist/ only while it is newer than every source file (else tsx).
import { build } from 'esbuild'

const root = new URL('../', import.meta.url)
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
}
// --bench: the benchmarks too (`npm run bench`), so they measure the code as nodes run it.
const BENCHES = ['index', 'log-store', 'checkpoint', 'network', 'network-node', 'query']
const entries = {
  shim: 'node/shim.ts',
  ehrlog: 'client/main.ts',
  ...(process.argv.includes('--bench')
    ? Object.fromEntries(BENCHES.map((b) => [`bench/${b}`, `scripts/bench/${b}.ts`]))
    : {}),
}
for (const [name, entry] of Object.entries(entries)) {
  const up = '../'.repeat(name.split('/').length) // from dist/NAME.mjs to the repository
  await build({
    ...common,
    // Where node/threads/source-root.ts finds the sources from inside dist/.
    banner: { js: `globalThis.EHRLOG_SOURCE_ROOT = new URL('${up}', import.meta.url).href;` },
    entryPoints: [new URL(entry, root).pathname],
    outfile: new URL(`dist/${name}.mjs`, root).pathname,
  })
}
