import { type Command, InvalidArgumentError, Option } from 'commander'
import { type EncodedEntry, entryId } from '../../node/core/entry.ts'
import { KIND_FILTERS, type KindFilter } from '../../node/core/entry-kinds.ts'
import { toHex } from '../../node/core/hex.ts'
import { SEED_COLUMNS, seedRow } from '../../node/core/trust/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
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
      "print the entries of a stopped node's replica, as the prototype's logs table or as JSON lines",
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
      await withLocalNode(ctx, opts.dir, async ({ store }) => {
        const entries = await selectEntries(store, opts)
        if (opts.json) {
          for (const e of entries) ctx.out(`${JSON.stringify(await evidenceOf(store, e))}\n`)
          return
        }
        const newestFirst = [...entries].sort((a, b) => timeOf(b).localeCompare(timeOf(a)))
        ctx.out(
          renderTable(
            SEED_COLUMNS,
            newestFirst.map((e) => seedRow(e)),
          ),
        )
        ctx.out(`${entries.length} entries\n`)
      })
    })
}

async function selectEntries(store: LogStore, opts: LogOptions): Promise<EncodedEntry[]> {
  if (opts.patient !== undefined) {
    const refs = await store.findByPatient(opts.patient)
    // A patient's trail holds events only, whatever --kind says.
    return (await store.getEntries(refs.slice(-opts.limit))).filter((e) => e.entry.kind === 'event')
  }
  const out: EncodedEntry[] = []
  for (const origin of store.origins()) {
    const size = store.size(origin)
    for await (const e of store.entries(origin, Math.max(1, size - opts.limit + 1))) {
      if (opts.kind === 'all' || e.entry.kind === opts.kind) out.push(e)
    }
  }
  return out.slice(-opts.limit)
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
