import { type Command, InvalidArgumentError } from 'commander'
import { initNodeDir, isLoopback } from '../../node/identity/index.ts'
import { toPort } from '../arguments.ts'
import { type CliContext, passphraseOf } from '../context.ts'

export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description("create a node's identity (Ed25519, libp2p and BLS keys), config and master key")
    .requiredOption('--dir <dir>', 'folder for the node (created; must be empty or absent)')
    .requiredOption('--name <name>', 'the node name, a DNS label such as hospital-a')
    .option(
      '--listen <multiaddr...>',
      'libp2p listen addresses (default: 127.0.0.1 on a port free now, written into config.json)',
    )
    .option(
      '--announce <multiaddr>',
      'an address other nodes dial, e.g. /ip4/203.0.113.7/tcp/7400 or /dns4/host.example/tcp/7400 (repeatable; needed with a wildcard --listen)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--http-port <port>',
      'port of the ingest API and portal (default: any free port)',
      toPort,
    )
    .addHelpText(
      'after',
      '\nWith EHRLOG_PASSPHRASE set, the master secret is derived from it (scrypt) instead of\nbeing stored in DIR/master.key. Nothing existing is ever overwritten.',
    )
    .action(
      async (opts: {
        dir: string
        name: string
        listen?: string[]
        announce?: string[]
        httpPort?: number
      }) => {
        const passphrase = passphraseOf(ctx)
        const identity = await initNodeDir(opts.dir, {
          name: opts.name,
          ...(passphrase ? { passphrase } : {}),
          ...(opts.listen ? { listen: opts.listen } : {}),
          ...(opts.announce ? { announce: opts.announce } : {}),
          ...(opts.httpPort !== undefined ? { httpPort: opts.httpPort } : {}),
        })
        ctx.out(`created node ${identity.name} in ${opts.dir}\n`)
        ctx.out(`  peer id            ${identity.peerId}\n`)
        ctx.out(`  tree-head key      ${identity.ed25519PublicKey}\n`)
        ctx.out(`  BLS key            ${identity.blsPublicKey.slice(0, 32)}…\n`)
        ctx.out(`  others dial        ${identity.addresses.join(', ')}\n`)
        if (identity.addresses.every(isLoopback))
          ctx.out(
            '  (loopback: only nodes on this machine can dial it; for a network of machines use --listen /ip4/0.0.0.0/tcp/7400 --announce /ip4/<public IP>/tcp/7400)\n',
          )
        ctx.out(
          `  secrets            ${passphrase ? 'keys.enc, unlocked by EHRLOG_PASSPHRASE' : 'master.key + keys.enc (mode 0600): back them up'}\n`,
        )
        ctx.out(`share ${opts.dir}/identity.json with the other hospitals to build network.json\n`)
      },
    )
}
