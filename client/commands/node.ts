import type { Command } from 'commander'
import { createLogger } from '../../node/logger.ts'
import { EhrlogNode } from '../../node/node.ts'
import { type CliContext, passphraseOf } from '../context.ts'

export function registerNode(program: Command, ctx: CliContext): void {
  const node = program.command('node').description('run a node')
  node
    .command('start')
    .description('run the node in the foreground: replication, ingest API; Ctrl-C stops it cleanly')
    .requiredOption('--dir <dir>', 'the node folder (with network.json)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--sync-interval <ms>', 'mean anti-entropy sync period', (v) => Number(v), 5000)
    .action(async (opts: { dir: string; logLevel: string; syncInterval: number }) => {
      const logger = createLogger({ level: opts.logLevel })
      const passphrase = passphraseOf(ctx)
      const running = new EhrlogNode({
        dir: opts.dir,
        logger,
        syncIntervalMs: opts.syncInterval,
        ...(passphrase ? { passphrase } : {}),
      })
      const info = await running.start()
      ctx.err(`${info.name} running: HTTP ${info.http}, libp2p ${info.addresses.join(' ')}\n`)
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'stopping')
          running.stop().then(resolve, resolve)
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
    })
}
