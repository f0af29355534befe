#!/usr/bin/env node
// The `ehrlog` command. Sources are TypeScript, loaded through tsx so that no build
// step can go stale; the shim goes first because libp2p needs it on Node 20.
import { register } from 'tsx/esm/api'

register()
await import('../node/shim.ts')
const { main } = await import('../client/main.ts')
process.exitCode = await main(process.argv.slice(2))
