#!/usr/bin/env node
// The `ehrlog` command. Sources are TypeScript, loaded through tsx so that no build
// step can go stale; the shim goes first because libp2p needs it on Node 20.
import { register } from 'tsx/esm/api'

register()
// `ehrlog log | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})
await import('../node/shim.ts')
const { main } = await import('../client/main.ts')
process.exitCode = await main(process.argv.slice(2))
