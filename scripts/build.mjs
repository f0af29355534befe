// `npm run build` (also run by `npm ci` through `prepare`): bundles the CLI and node into
// dist/ so that processes start without compiling TypeScript (tsx), which costs ~35 MiB of
// RSS per process and a second of start-up. Packages are bundled in too (see `external`). Worker
// threads' scripts are prebuilt too (dist/workers/, one CommonJS file each with its packages,
// as node/threads/worker-source.ts would bundle them at run time: an esbuild process per
// worker, ~0.1 s of a node's start); the portal's browser script is bundled at run time.
// bin/ehrlog.js uses dist/ only while it is newer than every source file (else tsx).
import { build } from 'esbuild'

const root = new URL('../', import.meta.url)
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Packages are bundled in too: a node loads ~0.25 s faster from one file than from the
  // hundreds of ESM modules of node_modules. Native addons (classic-level), the bundler
  // itself (the portal's script and workers are bundled at run time from the sources) and
  // the benchmarks' reference (hypercore) stay external.
  external: ['classic-level', 'esbuild', 'tsx', 'hypercore'],
  sourcemap: true,
  logLevel: 'warning',
}
// --bench: the benchmarks too (`npm run bench`), so they measure the code as nodes run it.
const BENCHES = [
  'index',
  'index-memory',
  'log-store',
  'checkpoint',
  'checkpoint-scale',
  'network',
  'network-node',
  'query',
  'syslog',
]
const entries = {
  shim: 'node/shim.ts',
  ehrlog: 'client/main.ts',
  ...(process.argv.includes('--bench')
    ? Object.fromEntries(BENCHES.map((b) => [`bench/${b}`, `scripts/bench/${b}.ts`]))
    : {}),
}
/** Worker threads' entries (node/threads/worker-source.ts reads dist/workers/PATH.cjs). */
const WORKERS = [
  'node/store/verify/check-worker.ts',
  'node/store/write/seal-thread.ts',
  'node/checkpoint/bls-worker-thread.ts',
  'node/atna/parse-thread.ts',
  'node/index/vrf-thread.ts',
]
for (const entry of WORKERS) {
  await build({
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    entryPoints: [new URL(entry, root).pathname],
    outfile: new URL(`dist/workers/${entry.replace(/\.ts$/, '.cjs')}`, root).pathname,
  })
}
for (const [name, entry] of Object.entries(entries)) {
  const up = '../'.repeat(name.split('/').length) // from dist/NAME.mjs to the repository
  await build({
    ...common,
    // Where node/threads/source-root.ts finds the sources from inside dist/.
    // `require` for the CommonJS packages bundled into this ES module (fastify, pino, ...).
    banner: {
      js: [
        "import { createRequire as __ehrlogRequire } from 'node:module';",
        'const require = __ehrlogRequire(import.meta.url);',
        `globalThis.EHRLOG_SOURCE_ROOT = new URL('${up}', import.meta.url).href;`,
      ].join(' '),
    },
    entryPoints: [new URL(entry, root).pathname],
    outfile: new URL(`dist/${name}.mjs`, root).pathname,
  })
}
