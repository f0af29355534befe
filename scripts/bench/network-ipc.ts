// Messages between the network benchmark's driver (network-cluster.ts) and each node
// process (network-node.ts), over the IPC channel of child_process.fork.
import type { ThreadKind } from './thread-kinds.ts'

export type DriverMessage =
  | { type: 'sizes'; id: number }
  /** The syslog listener's per-sender tallies (SenderTally[]; empty without one). */
  | { type: 'syslog'; id: number }
  | { type: 'usage'; id: number }
  /** Reply (with the time, ms since the epoch) once the node holds at least these sizes. */
  | { type: 'reach'; id: number; sizes: Record<string, number> }
  /** Report when each batch of `origin` is stored, and track event-loop delay, until unwatch. */
  | { type: 'watch'; origin: string }
  | { type: 'unwatch' }
  /** Times the index roots of every feed at the sizes held (a round's index work); replies ms. */
  | { type: 'indexRoots'; id: number }
  /** Runs one checkpoint round with this node proposing; replies a RoundResult. */
  | { type: 'round'; id: number }
  | { type: 'stop' }

export type ChildMessage =
  | { type: 'started'; http: string; startMs: number }
  | { type: 'failed'; message: string }
  | { type: 'reply'; id: number; value: unknown }
  /** Batches stored: tree size reached, and when (ms since the epoch, sub-ms). */
  | { type: 'arrivals'; items: Array<[treeSize: number, atMs: number]> }
  | { type: 'unhandled'; message: string }

export interface NodeUsage {
  /** CPU time of the whole process (all threads) since it started: µs. */
  cpuUs: number
  rssBytes: number
  loopDelayP99Ms: number
  loopDelayMaxMs: number
  /**
   * CPU µs of each thread of the process since it started, from /proc (Linux; empty
   * elsewhere): the main thread (the event loop) first, then the others by thread id, each
   * with its kind (thread-kinds.ts: V8's platform threads, libuv's pool, or another thread
   * started later: workers, LevelDB's compaction, jemalloc's purging). Clock-tick
   * resolution (10 ms).
   */
  threadsUs: Array<[tid: number, cpuUs: number, kind: ThreadKind]>
}

/** One checkpoint round as its proposer saw it (CheckpointService.runRound). */
export interface RoundResult {
  /** runRound() from the call to the cosigned checkpoint, measured in the node. */
  ms: number
  /** The error's message when the round failed (no quorum in time, a refusal). */
  error?: string
}
