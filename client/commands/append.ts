import { randomUUID } from 'node:crypto'
import type { Command } from 'commander'
import { entryId } from '../../node/core/entry.ts'
import { EhrlogError, isEhrlogError } from '../../node/core/errors.ts'
import { ACTIONS, type AuditEvent, OUTCOMES, parseEvent } from '../../node/core/event.ts'
import type { CliContext } from '../context.ts'
import { countValidEvents, readEventBatches } from '../event-file.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode, findEndpoint, type NodeEndpoint } from '../node-client.ts'
import { startProgress } from '../progress.ts'

interface AppendOptions {
  dir?: string
  node?: string
  token?: string
  file?: string
  patient?: string
  patientName?: string
  actor?: string
  actorName?: string
  action?: string
  detail?: string
  resource?: string
  resourceId?: string
  time?: string
  outcome?: string
  notes?: string
  json?: boolean
}

const BATCH = 1000

export function registerAppend(program: Command, ctx: CliContext): void {
  program
    .command('append')
    .description(
      "append audit events to a node's own feed: through the running node, or offline on its folder",
    )
    .option('--dir <dir>', 'the node folder (sends to its running node if there is one)')
    .option('--node <url>', 'a running node, e.g. http://127.0.0.1:7401')
    .option(
      '--token <token>',
      'the ingest API token (default: EHRLOG_API_TOKEN, or the --dir config)',
    )
    .option('--file <path>', 'bulk: an NDJSON file, one event object a line')
    .option('--patient <id>', 'patient id (USER_ID)')
    .option('--patient-name <name>', 'patient user name (USER_NAME)')
    .option('--actor <id>', 'who did it: clinician, staff or system id (AUDITOR_ID)')
    .option('--actor-name <name>', "the actor's name")
    .option('--action <action>', `one of ${ACTIONS.join(', ')}`)
    .option('--detail <text>', 'what was acted on, e.g. prescription (ACTION_TYPE detail)')
    .option('--resource <name>', 'EHR table or FHIR resource type, e.g. user_prescriptions')
    .option('--resource-id <id>', 'id of the record acted on')
    .option('--time <iso>', 'when it happened, ISO 8601 with zone (default: now)')
    .option('--outcome <outcome>', `one of ${OUTCOMES.join(', ')} (default success)`)
    .option('--notes <text>', 'free text (NOTES)')
    .option('--json', 'print the new entry ids as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  ehrlog append --dir n1 --patient 1 --patient-name anish --actor 12 --action print \\\n    --detail prescription --resource user_prescriptions --notes "Doctor printed the prescription"\n  ehrlog append --dir n1 --file events.ndjson',
    )
    .action(async (opts: AppendOptions) => {
      const endpoint = await findEndpoint(opts, ctx.env)
      if (endpoint) return appendRemote(ctx, opts, endpoint)
      if (opts.file) return appendFile(ctx, opts)
      const event = eventFromFlags(opts)
      await withLocalNode(ctx, opts.dir!, async ({ node, store }) => {
        const signer = { origin: node.config.name, privateKey: node.signingKey }
        const { entries } = await store.appendEvents(signer, [event])
        const ids = entries.map((e) => entryId(e.entry.origin, e.entry.seq))
        ctx.out(opts.json ? `${JSON.stringify({ ids })}\n` : `appended ${ids.join(', ')}\n`)
      })
    })
}

function eventFromFlags(opts: AppendOptions): AuditEvent {
  const missing = (['patient', 'actor', 'action', 'resource'] as const).filter(
    (k) => opts[k] === undefined,
  )
  if (missing.length > 0) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `missing --${missing.join(', --')} (or give --file)`,
      {
        details: { field: missing[0] },
      },
    )
  }
  return parseEvent({
    patientId: opts.patient,
    patientName: opts.patientName,
    actorId: opts.actor,
    actorName: opts.actorName,
    action: opts.action,
    detail: opts.detail,
    resource: opts.resource,
    resourceId: opts.resourceId,
    time: opts.time ?? new Date().toISOString(),
    outcome: opts.outcome,
    notes: opts.notes,
  })
}

async function appendFile(ctx: CliContext, opts: AppendOptions): Promise<void> {
  const file = opts.file!
  const total = await countValidEvents(file)
  await withLocalNode(ctx, opts.dir!, async ({ node, store }) => {
    const signer = { origin: node.config.name, privateKey: node.signingKey }
    const progress = startProgress('appending', total, ctx.progressStream)
    let done = 0
    let first: string | undefined
    let last: string | undefined
    try {
      for await (const batch of readEventBatches(file, BATCH)) {
        const { entries } = await store.appendEvents(signer, batch)
        first ??= entryId(signer.origin, entries[0]!.entry.seq)
        last = entryId(signer.origin, entries.at(-1)!.entry.seq)
        done += batch.length
        progress.update(done)
      }
    } finally {
      progress.stop()
    }
    ctx.out(
      opts.json
        ? `${JSON.stringify({ appended: done, first, last })}\n`
        : `appended ${done} events: ${first} .. ${last}\n`,
    )
  })
}

/**
 * Through a running node's ingest API, 1000 events a request, each with its own idempotency
 * key so that a retry after a lost answer never appends twice.
 */
async function appendRemote(
  ctx: CliContext,
  opts: AppendOptions,
  endpoint: NodeEndpoint,
): Promise<void> {
  const batches: AsyncIterable<AuditEvent[]> = opts.file
    ? readEventBatches(opts.file, BATCH)
    : (async function* () {
        yield [eventFromFlags(opts)]
      })()
  const total = opts.file ? await countValidEvents(opts.file) : 1
  const progress = startProgress('sending', total, ctx.progressStream)
  const ids: string[] = []
  const pendingIds: string[] = []
  try {
    for await (const events of batches) {
      const key = randomUUID()
      const answer = await withRetries(() =>
        callNode<{ ids?: string[]; pendingIds?: string[] }>(
          endpoint,
          'POST',
          '/api/v1/events',
          events,
          { 'idempotency-key': key },
        ),
      )
      // 202: durable on the node, sequenced once it has learned its feed's tip (README, ingest).
      ids.push(...(answer.ids ?? []))
      pendingIds.push(...(answer.pendingIds ?? []))
      progress.update(ids.length + pendingIds.length)
    }
  } finally {
    progress.stop()
  }
  if (pendingIds.length > 0) {
    ctx.out(
      opts.json
        ? `${JSON.stringify({ appended: ids.length, pending: pendingIds.length, pendingIds: pendingIds.length > 100 ? undefined : pendingIds })}\n`
        : `${pendingIds.length} events durable, not yet sequenced (the node is learning its feed's tip from the other members)${ids.length > 0 ? `; appended ${ids.length}` : ''}\n`,
    )
    return
  }
  if (opts.json)
    ctx.out(
      `${JSON.stringify({ ids: ids.length > 100 ? undefined : ids, appended: ids.length, first: ids[0], last: ids.at(-1) })}\n`,
    )
  else
    ctx.out(
      ids.length === 1
        ? `appended ${ids[0]}\n`
        : `appended ${ids.length} events: ${ids[0]} .. ${ids.at(-1)}\n`,
    )
}

/** Retries only when the node could not be reached (the request may or may not have landed). */
async function withRetries<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call()
    } catch (err) {
      if (!isEhrlogError(err, 'UNAVAILABLE') || i >= attempts) throw err
      await new Promise((r) => setTimeout(r, 200 * 2 ** i))
    }
  }
}
