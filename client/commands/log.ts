import { type Command, InvalidArgumentError, Option } from 'commander'
import { type EncodedEntry, entryId } from '../../node/core/entry.ts'
import { KIND_FILTERS, type KindFilter } from '../../node/core/entry-kinds.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import { QUERY_LIMITS, SEED_COLUMNS, seedRow } from '../../node/core/trust/index.ts'
import { readRuntimeInfo } from '../../node/identity/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { plural } from '../format/plural.ts'
import { renderTable } from '../format/text-table.ts'
import { withLocalNode } from '../local-node.ts'

interface LogOptions {
  dir: string
  patient?: string
  limit: number
  json?: boolean
  kind: KindFilter
}

export function registerLog(program: Command, ctx: CliContext): void {
  program
    .command('log')
    .description(
      "print the entries of a node's replica, as the prototype's logs table or as JSON lines (a running node's: through it, as `ehrlog query` with your session)",
    )
    .requiredOption('--dir <dir>', 'the node folder')
    .option('--patient <id>', "only this patient's trail (found through the blind index)")
    .option('--limit <n>', 'at most this many entries, newest first in the table', toCount, 1000)
    .addOption(
      new Option('--kind <kind>', 'entry kinds: user and alert records too, for a gapless chain')
        .choices(KIND_FILTERS)
        .default('event'),
    )
    .option(
      '--json',
      'JSON lines: each entry with its bytes, hash, the signed tree head covering it and the inclusion proof',
    )
    .action(async (opts: LogOptions) => {
      const running = await readRuntimeInfo(opts.dir)
      if (running) {
        // The node holds the store's lock. Its entries hold patient data, so they are read
        // through it with the saved session: verified by this command, and recorded as a read.
        await program.parseAsync(queryArgsOf(opts, running.http), { from: 'user' })
        return
      }
      await withLocalNode(ctx, opts.dir, async ({ store }) => {
        const { entries, total } = await selectEntries(store, opts)
        // Stopped at --limit (alerts and user records count in the total, not as rows).
        const more =
          entries.length === opts.limit && entries.length < total
            ? `${entries.length.toLocaleString('en-US')} of ${plural(total, 'entry')} shown; --limit to see more\n`
            : undefined
        if (opts.json) {
          for (const e of entries) ctx.out(`${JSON.stringify(await evidenceOf(store, e))}\n`)
          if (more) ctx.err(more) // stdout stays JSON lines
          return
        }
        const newestFirst = [...entries].sort((a, b) => timeOf(b).localeCompare(timeOf(a)))
        ctx.out(
          renderTable(
            SEED_COLUMNS,
            newestFirst.map((e) => seedRow(e)),
          ),
        )
        ctx.out(more ?? `${plural(entries.length, 'entry')}\n`)
      })
    })
}

/** The newest `limit` events, and how many entries there are to choose from. */
async function selectEntries(
  store: LogStore,
  opts: LogOptions,
): Promise<{ entries: EncodedEntry[]; total: number }> {
  if (opts.patient !== undefined && opts.patient.trim() === '')
    throw new EhrlogError('ARGUMENT_INVALID', '--patient must not be empty: give a patient id', {
      details: { field: '--patient' },
    })
  if (opts.patient !== undefined) {
    const refs = await store.findByPatient(opts.patient)
    // A patient's trail holds events only, whatever --kind says.
    const entries = await store.getEntries(refs.slice(-opts.limit))
    return { entries: entries.filter((e) => e.entry.kind === 'event'), total: refs.length }
  }
  const out: EncodedEntry[] = []
  let total = 0
  for (const origin of store.origins()) {
    const size = store.size(origin)
    total += size
    for await (const e of store.entries(origin, Math.max(1, size - opts.limit + 1))) {
      if (opts.kind === 'all' || e.entry.kind === opts.kind) out.push(e)
    }
  }
  return { entries: out.slice(-opts.limit), total }
}

/** `ehrlog query` arguments for a `log` on a running node. */
function queryArgsOf(opts: LogOptions, http: string): string[] {
  return [
    'query',
    '--dir',
    opts.dir,
    '--node',
    http,
    '--limit',
    String(Math.min(opts.limit, QUERY_LIMITS.maxLimit)),
    ...(opts.patient !== undefined ? ['--patient', opts.patient] : []),
    ...(opts.kind !== 'event' ? ['--kind', opts.kind] : []),
    ...(opts.json ? ['--format', 'json'] : []),
  ]
}

/** What an auditor needs to check one entry with other tools (docs/format.md). */
async function evidenceOf(store: LogStore, e: EncodedEntry) {
  const { origin, seq } = e.entry
  const head = store.latestHead(origin)!
  const proof = await store.inclusionProof(origin, seq, head.treeSize)
  return {
    id: entryId(origin, seq),
    entry: e.entry,
    bytes: Buffer.from(e.bytes).toString('base64'),
    hash: toHex(e.hash),
    head: {
      origin,
      treeSize: head.treeSize,
      root: toHex(head.root),
      signature: toHex(head.signature),
    },
    inclusionProof: proof.map(toHex),
  }
}

function toCount(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`--limit wants a positive whole number, got ${text}`)
  return n
}

/** Event time, or an alert's detection time; user records sort last. */
function timeOf(e: EncodedEntry): string {
  const body = e.entry.body as { time?: unknown; detectedAt?: unknown }
  const t = e.entry.kind === 'event' ? body.time : body.detectedAt
  return typeof t === 'string' ? t : ''
}
