import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { EhrlogError, isEhrlogError } from '../../node/core/errors.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { COUNTER_NAMES, verifyStatsBundle } from '../../node/core/stats/index.ts'
import { verifyCheckpoint } from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { loadMembership } from '../verify/index.ts'
import { registerStatsRequest } from './stats-request.ts'

interface VerifyOptions {
  period?: string
  key?: string
  network?: string
  allowUnanchored?: boolean
  json?: boolean
}

/**
 * `ehrlog stats verify FILE`: checks a statistics bundle offline, with no secret (docs/format.md,
 * "Private network statistics"), and prints its totals. Any failure exits non-zero with
 * `CODE: FILE: reason: message` (FILE_INVALID for malformed bytes, INVALID_PROOF for a forged
 * share, a wrong period or key, a sum or total that does not match).
 */
export function registerStats(program: Command, ctx: CliContext): void {
  const stats = program
    .command('stats')
    .description('private network statistics: totals anyone can check, never per hospital')
  registerStatsRequest(stats, ctx)
  stats
    .command('verify')
    .description('check a statistics bundle (no network, no secret) and print its totals')
    .argument('<file>', 'the bundle (binary, as the combiner wrote it)')
    .option('--period <period>', 'the period you expect, e.g. 2026-11-03')
    .option(
      '--key <hex>',
      "the network's statistics public key from a source you trust (64 hex characters)",
    )
    .option(
      '--network <file>',
      "network.json from a source you trust: checks the cosignatures of the checkpoints the hospitals' anchors rest on",
    )
    .option(
      '--allow-unanchored',
      'accept hospital blocks without an anchor into a cosigned checkpoint',
    )
    .option('--json', 'one JSON object')
    .action(async (file: string, opts: VerifyOptions) => {
      let publicKey: Uint8Array | undefined
      if (opts.key !== undefined) {
        publicKey = fromHex(opts.key, 32)
        if (!publicKey) {
          throw new EhrlogError('ARGUMENT_INVALID', '--key must be 64 lower-case hex characters')
        }
      }
      const membership = opts.network
        ? await loadMembership({
            network: opts.network,
            ...(ctx.configDir ? { configDir: ctx.configDir } : {}),
          })
        : undefined
      let bytes: Uint8Array
      try {
        bytes = new Uint8Array(await readFile(file))
      } catch (err) {
        throw new EhrlogError('FILE_INVALID', `${file}: cannot read: ${(err as Error).message}`)
      }
      let verified: ReturnType<typeof verifyStatsBundle>
      try {
        verified = verifyStatsBundle(bytes, {
          period: opts.period,
          publicKey,
          requireAnchors: !opts.allowUnanchored,
          // With a trusted network.json and no --key, the key must come from anchored entries.
          requireKeyAnchors: !publicKey && membership !== undefined,
          ...(membership
            ? { checkCheckpoint: (c: CosignedCheckpoint) => void verifyCheckpoint(membership, c) }
            : {}),
        })
      } catch (err) {
        if (!isEhrlogError(err)) throw err
        const reason = typeof err.details.reason === 'string' ? `${err.details.reason}: ` : ''
        throw new EhrlogError(err.code, `${file}: ${reason}${err.message}`, {
          details: err.details,
        })
      }
      const key = toHex(verified.publicKey)
      const provenance = verified.keyProvenance
      if (provenance && !publicKey) {
        ctx.err(
          `key ${key.slice(0, 16)}… (generation ${provenance.generation}) derived from the anchored dealings of members ${provenance.qualified.join(', ')} and stated in the anchored dkg-key entries of ${provenance.attestedBy.join(', ')}\n`,
        )
      } else if (!publicKey) {
        ctx.err(
          `trusting the key inside the bundle (${key.slice(0, 16)}…); pin the network's with --key HEX or give --network network.json\n`,
        )
      }
      if (!membership && verified.checkpoints.length > 0) {
        ctx.err(
          'the anchors fold to the checkpoints they name, whose cosignatures were not checked; give --network network.json\n',
        )
      }
      if (opts.json) {
        const totals = Object.fromEntries(
          COUNTER_NAMES.map((name, l) => [name, verified.totals[l] ?? null]),
        )
        ctx.out(
          `${JSON.stringify({ period: verified.period, hospitals: verified.origins, publicKey: key, sharesFrom: verified.sharesFrom, anchored: verified.unanchored.length === 0, keyAnchored: provenance !== undefined, ...(provenance ? { keyGeneration: provenance.generation, keyAttestedBy: provenance.attestedBy } : {}), cosignaturesChecked: membership !== undefined, totals })}\n`,
        )
        return
      }
      const width = Math.max(...COUNTER_NAMES.map((n) => n.length))
      const lines = [
        `verified: period ${verified.period}, ${verified.origins.length} hospitals (${verified.origins.join(', ')}), decrypted by members ${verified.sharesFrom.join(', ')}`,
        ...COUNTER_NAMES.map(
          (name, l) =>
            `${name.padEnd(width)}  ${verified.totals[l] ?? 'withheld (under the minimum)'}`,
        ),
      ]
      ctx.out(`${lines.join('\n')}\n`)
    })
}
