// A node's memory allocator. Under glibc's malloc a node's resident memory drifts: its main
// heap fragments and keeps what it freed, and the store benchmark's peak RSS at 1M entries
// went from ~275 to 310-400 MiB in one run of three or four (docs/performance.md). jemalloc
// (Debian's libjemalloc2, set to purge freed pages within a second) gives that memory back
// and costs less CPU per append: with it the same benchmark peaks at 243-284 MiB, under CPU
// contention too, and appends ~8 % faster. An allocator can only be
// chosen when a process starts, so `ehrlog node start` runs the node as a child process with
// jemalloc preloaded when it is installed, and glibc's mmap threshold fixed either way (it
// stops glibc from moving ~0.5 MB LevelDB write batches into its main heap). A service unit
// that sets MALLOC_MMAP_THRESHOLD_ itself (any value, with LD_PRELOAD as it likes) runs the
// node in one process; EHRLOG_JEMALLOC=0 keeps glibc.
//
// The launcher forwards SIGINT, SIGTERM and SIGHUP and exits with the node's code. The node reads
// the other end of a pipe on fd 3 (EHRLOG_LAUNCHER_FD): if the launcher dies, even by
// SIGKILL, the node sees the pipe close and stops cleanly instead of living on unseen.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'

/** The fixed threshold, bytes: glibc's initial one. */
export const MMAP_THRESHOLD = '131072'

/** Where Debian and other distributions install jemalloc 5. */
const JEMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
]

/** The installed jemalloc library, if any (and unless EHRLOG_JEMALLOC=0). */
export function jemallocPath(env = process.env) {
  if (env.EHRLOG_JEMALLOC === '0') return undefined
  return JEMALLOC_PATHS.find((path) => existsSync(path))
}

/**
 * jemalloc's settings for a node: freed pages go back to the system within a second (a
 * background thread purges them, not the allocating thread), and two arenas rather than
 * eight for two cores. Under CPU contention the defaults (10 s decay, 4 arenas per core)
 * let the store benchmark's peak reach 314 MiB; with these, 249-270 MiB at the same speed.
 */
export const JEMALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2'

/** The variables a node process starts with: jemalloc where installed, the threshold. */
export function allocatorEnv(env = process.env) {
  const vars = { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD }
  const jemalloc = jemallocPath(env)
  const preload = env.LD_PRELOAD ?? ''
  if (jemalloc && !preload.includes('jemalloc'))
    vars.LD_PRELOAD = preload ? `${jemalloc}:${preload}` : jemalloc
  if (jemalloc && env.MALLOC_CONF === undefined) vars.MALLOC_CONF = JEMALLOC_CONF
  return vars
}

/** Whether a process started with `env` on `platform` would gain from the relaunch. */
export function thresholdUnset(env = process.env, platform = process.platform) {
  return platform === 'linux' && env.MALLOC_MMAP_THRESHOLD_ === undefined
}

/**
 * The environment a node process starts with: `env`, plus allocatorEnv() unless the
 * threshold is set already (then whoever set it chose the allocator too).
 */
export function nodeProcessEnv(env = process.env) {
  return { ...env, ...(thresholdUnset(env) ? allocatorEnv(env) : {}) }
}

/** Whether `args` (argv after the script) start a node that should be relaunched. */
export function relaunches(args, env = process.env, platform = process.platform) {
  const words = args.filter((a) => !a.startsWith('-')).slice(0, 2)
  return thresholdUnset(env, platform) && words[0] === 'node' && words[1] === 'start'
}

/** Runs this same command as a child with nodeProcessEnv(); resolves to its exit code. */
export function relaunch() {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...nodeProcessEnv(), EHRLOG_LAUNCHER_FD: '3' },
  })
  // The launcher only holds its end of the pipe; it must not keep this process alive.
  child.stdio[3]?.unref()
  // A terminal's Ctrl-C reaches both processes; the node takes a repeat within a moment of
  // the first signal as the same request (client/commands/node.ts).
  // SIGHUP too: it asks the node to reload its HTTPS certificate, and must not end the launcher.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`ehrlog: could not start the node process: ${err.message}\n`)
      resolve(1)
    })
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (constants.signals[signal] ?? 0))
    })
  })
}
