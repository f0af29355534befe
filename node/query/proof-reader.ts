import { type CosignedCheckpoint, cosignedToJson, feedCutOf } from '../core/checkpoint.ts'
import { type EncodedEntry, entryId, parseEntryId } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { toHex } from '../core/hex.ts'
import type { LogStore } from '../store/index.ts'
import type { Session } from './scope.ts'

/** What a node answers for GET /api/v1/proof/:entryId (docs/query.md). */
export interface ProofAnswerJson {
  entryId: string
  /** The entry's canonical bytes, base64. */
  bytes: string
  hash: string
  /** The tree size of the entry's origin in `cosigned`'s cut: the proof is against that root. */
  treeSize: number
  inclusionProof: string[]
  cosigned: ReturnType<typeof cosignedToJson>
}

/** A read of one entry's contents, as the proof reader records it. */
export interface EntryRead {
  session: Session
  entryId: string
  /** The patient whose trail the entry is in, '*' for a user or alert record. */
  subject: string
}

export interface ProofReaderOptions {
  store: Pick<LogStore, 'getEntry' | 'size' | 'inclusionProof'>
  checkpoints: { latest(): CosignedCheckpoint | undefined }
  /** Records the read before the contents leave (QueryService: an audit event in the own feed). */
  record: (read: EntryRead) => Promise<void>
}

/**
 * One entry with its inclusion proof at the latest cosigned checkpoint, for an active auditor
 * or admin session. A patient session is refused (its trail comes through queries, scoped);
 * the EHR's API token never gets here (it may only append). Every answer is recorded first.
 */
export async function readEntryProof(
  opts: ProofReaderOptions,
  session: Session,
  rawId: string,
): Promise<ProofAnswerJson> {
  if (session.role === 'patient')
    throw new EhrlogError(
      'FORBIDDEN',
      'a patient session reads its trail through queries (ehrlog query), not single entries',
      { details: { field: 'session', reason: 'role' } },
    )
  if (session.status !== 'active')
    throw new EhrlogError(
      'FORBIDDEN',
      `the ${session.role} account ${session.sub} is waiting for an admin's approval`,
      { details: { field: 'session', reason: 'pending' } },
    )
  const ref = parseEntryId(rawId)
  if (!ref)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `entry id ${JSON.stringify(rawId.slice(0, 80))} is not origin:seq`,
      { details: { field: 'entryId' } },
    )
  const id = entryId(ref.origin, ref.seq)
  const entry = await opts.store.getEntry(ref.origin, ref.seq)
  if (!entry)
    throw new EhrlogError('NOT_FOUND', `no such entry ${id}: this node holds no entry there`, {
      details: { field: 'entryId', entryId: id },
    })
  const answer = await entryProofAt(opts.store, opts.checkpoints.latest(), entry)
  const subject = entry.entry.kind === 'event' ? (entry.entry.body as AuditEvent).patientId : '*'
  // Fail closed: contents leave only once their read is on record.
  await opts.record({ session, entryId: id, subject })
  return answer
}

/**
 * `entry` with its inclusion proof at `latest`'s cut of its origin: what a node answers, and
 * what `ehrlog proof --dir` reads from a stopped node's folder. NOT_FOUND while no cosigned
 * checkpoint covers the entry.
 */
export async function entryProofAt(
  store: Pick<LogStore, 'inclusionProof'>,
  latest: CosignedCheckpoint | undefined,
  entry: EncodedEntry,
): Promise<ProofAnswerJson> {
  const { origin, seq } = entry.entry
  const id = entryId(origin, seq)
  const cut = latest && feedCutOf(latest.checkpoint, origin)
  if (!latest || !cut || cut.treeSize < seq)
    throw new EhrlogError(
      'NOT_FOUND',
      `entry ${id} is not covered by a cosigned checkpoint yet: run \`ehrlog checkpoint --run\` or wait for the next round`,
      { details: { field: 'entryId', entryId: id, reason: 'not-cosigned' } },
    )
  const proof = await store.inclusionProof(origin, seq, cut.treeSize)
  return {
    entryId: id,
    bytes: Buffer.from(entry.bytes).toString('base64'),
    hash: toHex(entry.hash),
    treeSize: cut.treeSize,
    inclusionProof: proof.map(toHex),
    cosigned: cosignedToJson(latest),
  }
}
