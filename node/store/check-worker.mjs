// Entry point of a verify worker thread (check-pool.ts). The store is TypeScript, loaded
// through tsx; a worker does not inherit the loader its parent registered (bin/ehrlog.js,
// vitest), so it registers tsx itself before loading the worker's code.
import { register } from 'tsx/esm/api'

register()
await import('./check-worker.ts')
