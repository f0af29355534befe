// glibc's malloc serves a block above its mmap threshold (128 KiB at first) with its own
// mapping, and each time it frees one it raises the threshold to that block's size. A node
// builds a LevelDB write batch of ~0.5 MB on its main thread per append or accepted batch;
// after the first few, those come from the main heap (`[heap]`), which fragments and is not
// given back: under CPU contention the store benchmark's peak RSS went from ~280 to ~350-400
// MiB that way (docs/performance.md). A threshold fixed through the environment stops the
// raising, but glibc reads it only when a process starts. So `ehrlog node start` runs the
// node as a child process with it set, unless MALLOC_MMAP_THRESHOLD_ is already set (a
// service unit can set it and skip the extra process).
//
// The launcher forwards SIGINT and SIGTERM and exits with the node's code. The node reads
// the other end of a pipe on fd 3 (EHRLOG_LAUNCHER_FD): if the launcher dies, even by
// SIGKILL, the node sees the pipe close and stops cleanly instead of living on unseen.
import { spawn } from 'node:child_process'
import { constants } from 'node:os'

/** The fixed threshold, bytes: glibc's initial one. */
export const MMAP_THRESHOLD = '131072'

/** Whether a process started with `env` on `platform` would gain from the relaunch. */
export function thresholdUnset(env = process.env, platform = process.platform) {
  return platform === 'linux' && env.MALLOC_MMAP_THRESHOLD_ === undefined
}

/** Whether `args` (argv after the script) start a node that should be relaunched. */
export function relaunches(args, env = process.env, platform = process.platform) {
  const words = args.filter((a) => !a.startsWith('-')).slice(0, 2)
  return thresholdUnset(env, platform) && words[0] === 'node' && words[1] === 'start'
}

/** Runs this same command as a child with the threshold set; resolves to its exit code. */
export function relaunch() {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD, EHRLOG_LAUNCHER_FD: '3' },
  })
  // The launcher only holds its end of the pipe; it must not keep this process alive.
  child.stdio[3]?.unref()
  // A terminal's Ctrl-C reaches both processes; the node takes a repeat within a moment of
  // the first signal as the same request (client/commands/node.ts).
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
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
