import { type Command, InvalidArgumentError } from 'commander'
import { type EncodedEntry, entryId } from '../../node/core/entry.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { toHex } from '../../node/core/hex.ts'
import type { LogStore } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { SEED_COLUMNS, seedRow } from '../format/seed-columns.ts'
import { renderTable } from '../format/text-table.ts'
import { withLocalNode } from '../local-node.ts'

interface LogOptions {
  dir: string
  patient?: string
  limit: number
  json?: boolean
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
        const newestFirst = [...entries].sort((a, b) =>
          (b.entry.body as AuditEvent).time.localeCompare((a.entry.body as AuditEvent).time),
        )
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
  if (opts.patient !== undefined && opts.patient.trim() === '')
    throw new EhrlogError('ARGUMENT_INVALID', '--patient must not be empty: give a patient id', {
      details: { field: '--patient' },
    })
  if (opts.patient !== undefined) {
    const refs = await store.findByPatient(opts.patient)
    return (await store.getEntries(refs.slice(-opts.limit))).filter((e) => e.entry.kind === 'event')
  }
  const out: EncodedEntry[] = []
  for (const origin of store.origins()) {
    const size = store.size(origin)
    for await (const e of store.entries(origin, Math.max(1, size - opts.limit + 1))) {
      if (e.entry.kind === 'event') out.push(e)
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
