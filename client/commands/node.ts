import { Socket } from 'node:net'
import type { Command } from 'commander'
import { createLogger, type Logger } from '../../node/logger.ts'
import { EhrlogNode } from '../../node/node.ts'
import { type CliContext, passphraseOf } from '../context.ts'
import { EXIT } from '../exit-codes.ts'

interface NodeStartOptions {
  dir: string
  logLevel: string
  syncInterval: number
  overrideFence?: string
}

export function registerNode(program: Command, ctx: CliContext): void {
  const node = program.command('node').description('run a node')
  node
    .command('start')
    .description('run the node in the foreground: replication, ingest API; Ctrl-C stops it cleanly')
    .requiredOption('--dir <dir>', 'the node folder (with network.json)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--sync-interval <ms>', 'mean anti-entropy sync period', (v) => Number(v), 5000)
    .option(
      '--override-fence <reason>',
      "append without learning the own feed's tip from a quorum of members (a new network's first start, or members gone for good); logged and recorded as an entry",
    )
    .action(async (opts: NodeStartOptions) => {
      const logger = createLogger({ level: opts.logLevel })
      const passphrase = passphraseOf(ctx)
      const running = new EhrlogNode({
        dir: opts.dir,
        logger,
        syncIntervalMs: opts.syncInterval,
        ...(passphrase ? { passphrase } : {}),
        ...(opts.overrideFence !== undefined ? { overrideFence: opts.overrideFence } : {}),
      })
      // The stop signals are taken from before the node starts: node.json (which tells a
      // supervisor or a script that the node is up) is written while start() still runs, and
      // a SIGTERM then must stop the node cleanly, not end the process by the default action.
      let started: Promise<unknown> = Promise.resolve()
      const stopped = new Promise<void>((resolve) => {
        let stoppingSince: number | undefined
        const stop = (why: string) => {
          if (stoppingSince !== undefined) {
            // A terminal's Ctrl-C reaches the launcher and the node both, and the launcher
            // forwards it: a repeat right after the first is the same request.
            if (Date.now() - stoppingSince < REPEAT_MS) return
            logger.warn({ why }, 'asked again while stopping: exiting without a clean stop')
            process.exit(EXIT.internal)
          }
          stoppingSince = Date.now()
          logger.info({ why }, 'stopping')
          // EhrlogNode.stop lets a start under way finish first.
          running.stop().then(resolve, resolve)
        }
        process.on('SIGINT', () => stop('SIGINT'))
        process.on('SIGTERM', () => stop('SIGTERM'))
        // SIGHUP re-reads the HTTPS certificate and key (renewed by certbot or the like); a
        // bad pair is logged and the one in use stays. One during start waits for it.
        process.on('SIGHUP', () => {
          started.then(
            () => reloadTls(running, logger),
            () => {},
          )
        })
        watchLauncher(() => stop('launcher exited'))
      })
      // Its "node started" log line names the HTTP URL and the libp2p addresses: stdout and
      // stderr stay one JSON stream for journald and log shippers.
      started = running.start()
      await started
      await stopped
      // The node has stopped and its store is closed. libp2p leaves timers behind (gossipsub's
      // heartbeat, the address manager's debounce) that would hold the process 1-3 s more.
      setTimeout(() => process.exit(), 250).unref()
    })
}

/** The SIGHUP handler: EhrlogNode.reloadTls, its outcome logged. */
export function reloadTls(running: EhrlogNode, logger: Logger): Promise<void> {
  return running.reloadTls().then(
    (reloaded) =>
      logger.info(
        reloaded
          ? 'SIGHUP: HTTPS certificate and key reloaded'
          : 'SIGHUP: no http.tls, nothing to reload',
      ),
    (err: unknown) =>
      logger.error(
        { err: (err as Error).message },
        'SIGHUP: certificate not reloaded; the one in use stays',
      ),
  )
}

/** Within this long of the first stop signal, another one is taken as the same request. */
const REPEAT_MS = 2000

/**
 * When bin/ehrlog.js runs the node as its child (bin/relaunch.js), the launcher holds the
 * other end of a pipe at fd EHRLOG_LAUNCHER_FD. The pipe closes when the launcher exits
 * however it exits, SIGKILL included; the node then stops rather than outlive it unseen.
 */
function watchLauncher(onGone: () => void): void {
  const fd = Number(process.env.EHRLOG_LAUNCHER_FD)
  delete process.env.EHRLOG_LAUNCHER_FD
  if (!Number.isInteger(fd) || fd < 3) return
  let pipe: Socket
  try {
    pipe = new Socket({ fd, readable: true, writable: false })
  } catch {
    return // not a pipe after all (the variable set by hand): nothing to watch
  }
  let gone = false
  const once = () => {
    if (gone) return
    gone = true
    onGone()
  }
  pipe.on('end', once).on('close', once).on('error', once)
  pipe.resume()
  pipe.unref()
}
