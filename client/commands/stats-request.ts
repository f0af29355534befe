import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { EhrlogError } from '../../node/core/errors.ts'
import type { CliContext } from '../context.ts'
import { callNode, findEndpoint } from '../node-client.ts'

interface RequestOptions {
  dir?: string
  node?: string
  token?: string
  period: string
  group?: string
  hospitals?: string
  counters?: string
  out?: string
  json?: boolean
}

interface RequestAnswer {
  period: string
  group: string
  hospitals: string[]
  file: string
  bundle: string
  totals: Record<string, number | null>
  sharesFrom: string[]
  refused: Array<{ member: string; reason: string; message: string }>
}

/**
 * `ehrlog stats request --period P [--group G | --hospitals a,b] [--counters …] --out FILE`:
 * asks a running member to have the members decrypt a group's totals for a period
 * (docs/architecture.md, "Private network statistics"). The members check the policy; refusals and a stalled request come back as
 * coded errors naming the rule or the members that did not answer. Writes the bundle, which
 * `ehrlog stats verify` checks offline.
 */
export function registerStatsRequest(stats: Command, ctx: CliContext): void {
  stats
    .command('request')
    .description(
      "have the members decrypt a group's totals for a period; writes the statistics bundle",
    )
    .requiredOption('--period <period>', 'the period, in the network unit, e.g. 2026-11-03')
    .option(
      '--group <name>',
      "a group of the policy's partition (default: the first, e.g. network)",
    )
    .option(
      '--hospitals <list>',
      'comma-separated hospitals instead of a group (the policy must allow them)',
    )
    .option('--counters <list>', 'comma-separated counter names or prefixes with * (default: all)')
    .option('--out <file>', 'where to write the bundle (default: the name the node gave it)')
    .option('--dir <dir>', 'the node folder of a running member')
    .option('--node <url>', 'a running member, e.g. http://127.0.0.1:7401')
    .option('--token <token>', 'its API token (default: EHRLOG_API_TOKEN, or the --dir config)')
    .option('--json', 'one JSON object')
    .action(async (opts: RequestOptions) => {
      const endpoint = await findEndpoint(opts, ctx.env)
      if (!endpoint)
        throw new EhrlogError(
          'UNAVAILABLE',
          `no node is running in ${opts.dir}: a request needs the network`,
        )
      const query = new URLSearchParams({ period: opts.period })
      if (opts.group) query.set('group', opts.group)
      if (opts.hospitals) query.set('hospitals', opts.hospitals)
      if (opts.counters) query.set('counters', opts.counters)
      const answer = await callNode<RequestAnswer>(
        endpoint,
        'POST',
        `/api/v1/stats/requests?${query}`,
      )
      const out = opts.out ?? answer.file
      await writeFile(out, Buffer.from(answer.bundle, 'base64'))
      if (opts.json) {
        const { bundle: _bundle, ...rest } = answer
        ctx.out(`${JSON.stringify({ ...rest, out })}\n`)
        return
      }
      for (const r of answer.refused)
        ctx.err(`refused from ${r.member}: ${r.reason}: ${r.message}\n`)
      const published = Object.entries(answer.totals).filter(([, v]) => v !== null)
      ctx.out(
        `${out}: ${answer.period}, group ${answer.group} (${answer.hospitals.join(', ')}), decrypted by ${answer.sharesFrom.join(', ')}; ${published.length} totals published, check with: ehrlog stats verify ${out}\n`,
      )
    })
}
