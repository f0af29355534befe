// Which thread of this process is which, for the benchmarks that split CPU by thread
// (syslog-processes.ts through network-node.ts, replica-apply.ts). Linux only: elsewhere
// there is no /proc/self/task and every list is empty.
//
// Node names none of its threads (every /proc/self/task/TID/comm reads "node"), so they are
// told apart by when they start, and a thread id is larger the later its thread started:
// - the main thread (the event loop): its id is the process id;
// - V8's platform threads (GC helpers: concurrent marking, parallel scavenges; background
//   compilation) and Node's own few (inspector, signal watchdog), which start with the
//   process;
// - libuv's thread pool (UV_THREADPOOL_SIZE threads, 4 by default), which starts at the
//   first asynchronous file or crypto call, here before any module's body runs (the ES module
//   loader reads files asynchronously), and which runs LevelDB's reads and writes (memtable
//   inserts, the log and its fsync) and node:fs;
// - every thread after those: worker threads (parse, seal, VRF), LevelDB's compaction
//   thread, jemalloc's purging thread.
// Checked in session 11: pbkdf2 calls burn CPU only in the 4 highest ids present at the
// module's start, a garbage-heavy loop only in the main thread and 4 lower ones.
import { readdirSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

export type ThreadKind = 'main' | 'v8' | 'libuv' | 'other'

/** Every thread of this process now, by id. */
export function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number)
  } catch {
    return []
  }
}

/** A thread's CPU (utime + stime, clock ticks of 10 ms), µs; undefined once it ended. */
export function threadCpuUs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    // Fields after the command (which may hold spaces) in parentheses: utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100
  } catch {
    return undefined
  }
}

/**
 * The kinds of the threads that exist before the program has built anything: call it first
 * thing. It makes one asynchronous file read first, so that libuv's pool exists (were it
 * started later, its threads would count as "other"). Threads not in the map are "other".
 */
export async function threadKindsAtStart(): Promise<Map<number, ThreadKind>> {
  await readFile('/proc/self/stat').catch(() => undefined)
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4
  const rest = threadIds()
    .filter((tid) => tid !== process.pid)
    .sort((a, b) => a - b)
  const kinds = new Map<number, ThreadKind>([[process.pid, 'main']])
  rest.forEach((tid, i) => {
    kinds.set(tid, i >= rest.length - pool ? 'libuv' : 'v8')
  })
  return kinds
}
