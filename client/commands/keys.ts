import type { Command } from 'commander'
import { EhrlogError } from '../../node/core/errors.ts'
import { readPublicIdentity } from '../../node/identity/index.ts'
import { NEXT_IDENTITY_FILE, NEXT_KEYS_FILE, rotateNodeKey } from '../../node/identity/next-keys.ts'
import { type CliContext, passphraseOf } from '../context.ts'

/**
 * `ehrlog keys rotate --dir DIR --kind ed25519|bls|libp2p`: draws the node's next key into
 * keys-next.enc (next-keys.ts) and prints its public side for `ehrlog network propose rotate`.
 * The node keeps signing with keys.enc until the change is applied at a checkpoint cut.
 */
export function registerKeys(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description("a node's own keys")
  keys
    .command('rotate')
    .description(
      `draw a new key into ${NEXT_KEYS_FILE}, used from the checkpoint cut that applies its rotation`,
    )
    .requiredOption('--dir <dir>', 'node folder')
    .requiredOption(
      '--kind <kind>',
      'ed25519 (tree heads), bls (checkpoints) or libp2p (the PeerId, network transport)',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { dir: string; kind: string; json?: boolean }) => {
      if (opts.kind !== 'ed25519' && opts.kind !== 'bls' && opts.kind !== 'libp2p')
        throw new EhrlogError(
          'ARGUMENT_INVALID',
          `--kind ${opts.kind}: want ed25519, bls or libp2p`,
          { details: { field: 'kind' } },
        )
      const next = await rotateNodeKey(opts.dir, opts.kind, passphraseOf(ctx))
      const { name } = await readPublicIdentity(opts.dir)
      const shown =
        opts.kind === 'ed25519'
          ? { kind: 'ed25519', ed25519PublicKey: next.ed25519PublicKey }
          : opts.kind === 'bls'
            ? {
                kind: 'bls',
                blsPublicKey: next.blsPublicKey,
                blsProofOfPossession: next.blsProofOfPossession,
              }
            : { kind: 'libp2p', peerId: next.peerId }
      if (opts.json) {
        ctx.out(`${JSON.stringify(shown)}\n`)
        return
      }
      ctx.out(`new ${opts.kind} key written to ${NEXT_KEYS_FILE} (keys.enc still signs)\n`)
      for (const [k, v] of Object.entries(shown)) if (k !== 'kind') ctx.out(`${k}: ${v}\n`)
      ctx.out(
        `propose it: ehrlog network propose rotate ${name} --key ${opts.kind} --identity ${opts.dir}/${NEXT_IDENTITY_FILE} --dir ${opts.dir} --out rotate.json; the node switches at the checkpoint cut that applies it\n`,
      )
    })
}
