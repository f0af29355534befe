// Entry point of the BLS worker thread (bls-worker.ts). The checkpoint code is TypeScript,
// loaded through tsx; a worker does not inherit the loader its parent registered
// (bin/ehrlog.js, vitest), so it registers tsx itself before loading the worker's code.
import { register } from 'tsx/esm/api'

register()
await import('./bls-worker-thread.ts')
