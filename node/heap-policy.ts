import { setFlagsFromString } from 'node:v8'

/**
 * How far V8 lets its old generation grow past what the last full collection left live
 * before it starts the next one, in percent: the limit is live × (1 + p/100).
 *
 * Left to itself V8 picks the factor from how fast collection runs against the program
 * (1.1 to 4). Under sustained ingest it picked ~1.1–1.3 for a node, so with ~45 MiB live it
 * ran a full mark-compact every ~150–300 ms, each marking the whole live heap (the index's
 * patients, the blind-index caches, the replicas' recent batches): V8's helper threads cost
 * 10–18 µs of CPU per message on each node in the syslog benchmark at 100,000 patients. A
 * fixed factor of 2 runs one a few times less often; the benchmark's CPU per message fell
 * by ~16 % and the nodes' peak RSS did not rise (docs/performance.md, session 13).
 *
 * The cost is bounded by the live heap: the old generation may hold up to twice it before
 * collecting. On an idle node, where V8 would have chosen up to 4, it is a smaller limit.
 */
export const HEAP_GROWING_PERCENT = 100

const FLAG = '--heap-growing-percent'

/**
 * Sets the policy for this process when a node starts (EhrlogNode.start; setting it again, for
 * a second node in one process, changes nothing). V8 reads the factor each time it recomputes
 * a limit, so it takes effect from the next collection. A `--heap-growing-percent` given on
 * Node's command line wins (an operator's own choice).
 */
export function applyHeapPolicy(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a === FLAG || a.startsWith(`${FLAG}=`))) return false
  setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`)
  return true
}
