#!/usr/bin/env node
// The `ehrlog` command. Runs the prebuilt bundle in dist/ (scripts/build.mjs, made by
// `npm ci`) while it is newer than every source file; otherwise the TypeScript sources
// through tsx, so an edited source never runs stale. The shim goes first: libp2p needs it
// on Node 20.
import { readdirSync, statSync } from 'node:fs'
import { relaunch, relaunches } from './relaunch.js'

// `ehrlog log | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const root = new URL('../', import.meta.url)

/** Newest modification time of the .ts files under `dir` (recursive). */
function newestSource(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

function bundleIsFresh() {
  try {
    const built = statSync(new URL('dist/ehrlog.mjs', root)).mtimeMs
    return (
      statSync(new URL('dist/shim.mjs', root)).mtimeMs > 0 &&
      built >= newestSource(new URL('node/', root)) &&
      built >= newestSource(new URL('client/', root))
    )
  } catch {
    return false
  }
}

if (relaunches(process.argv.slice(2))) process.exitCode = await relaunch()
else process.exitCode = await run()

async function run() {
  let main
  const fromBundle = process.env.EHRLOG_FROM_SOURCE !== '1' && bundleIsFresh()
  if (process.env.EHRLOG_LAUNCH_TRACE === '1')
    process.stderr.write(
      `ehrlog: running ${fromBundle ? 'dist/ (prebuilt)' : 'the sources (tsx)'}\n`,
    )
  if (fromBundle) {
    // Stack traces (--debug) name the TypeScript sources. Only then: mapping the bundle reads
    // and parses its 6 MB source map, ~90 ms of every command's start.
    if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true)
    await import('../dist/shim.mjs')
    ;({ main } = await import('../dist/ehrlog.mjs'))
  } else {
    const { register } = await import('tsx/esm/api')
    register()
    await import('../node/shim.ts')
    ;({ main } = await import('../client/main.ts'))
  }
  return main(process.argv.slice(2))
}
