import { canonicalJson } from '../core/canonical-json.ts'
import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import type { ConsistencyAnswerJson } from '../core/consistency-answer.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { type AuditEvent, parseEvent } from '../core/event.ts'
import {
  decodeCursor,
  parseQueryFilter,
  QUERY_LIMITS,
  type QueryAnswerJson,
  type QueryFilter,
} from '../core/trust/index.ts'
import type { IndexView } from '../index/index-view.ts'
import type { Logger } from '../logger.ts'
import type { LogStore } from '../store/index.ts'
import { buildAnswer, type ProofStore } from './answer-builder.ts'
import { completenessOf, completenessPatientOf } from './completeness.ts'
import { answerConsistency } from './consistency-builder.ts'
import { type ProofAnswerJson, readEntryProof } from './proof-reader.ts'
import { type QueryRateLimit, QueryRateLimiter } from './rate-limit.ts'
import { QueryRefused, type Session, scopeQuery } from './scope.ts'
import { selectEntries } from './select.ts'

/** A query as it arrives from HTTP or libp2p: everything in it is untrusted. */
export interface QueryRequest {
  filter: unknown
  cursor?: unknown
  limit?: unknown
  /** Which transport carried it, for the query's own audit event. */
  via: 'http' | 'libp2p'
  /** libp2p's consistency request instead of a query: `{from}` (consistency-builder.ts). */
  consistency?: unknown
}

export interface QueryServiceOptions {
  /** This node's name. */
  node: string
  store: LogStore
  /** Queries per user at this node (config.json `query.rateLimit`; DEFAULT_QUERY_RATE_LIMIT). */
  rateLimit?: QueryRateLimit
  checkpoints: { latest(): CosignedCheckpoint | undefined }
  auth: { authenticate(token: string | undefined): Session }
  /** Appends the query's audit event to this node's own feed; resolves once durable. */
  record: (event: AuditEvent) => Promise<unknown>
  now?: () => Date
  /** Told of each query's outcome ('answered' or the error code) and duration (metrics). */
  observe?: (outcome: string, durationMs: number) => void
  /**
   * The per-patient index: a patient-only query's answer carries its completeness proof at
   * the checkpoint's cut (completeness.ts). Without it answers carry none.
   */
  index?: Pick<IndexView, 'prove'>
  /** Where a proof that could not be made is logged (the answer then goes without it). */
  logger?: Logger
}

/**
 * Answers verified queries (docs/query.md). Every query that passes authentication is
 * recorded as an audit event in this node's own feed (who looked at whose trail, with what
 * filter), refused ones with outcome failure; no answer leaves before its record is durable.
 */
export class QueryService {
  readonly #opts: QueryServiceOptions
  readonly #proofs: ProofStore
  readonly #limiter: QueryRateLimiter

  constructor(opts: QueryServiceOptions) {
    this.#opts = opts
    const { store } = opts
    this.#limiter = new QueryRateLimiter(opts.rateLimit, () =>
      (opts.now?.() ?? new Date()).getTime(),
    )
    this.#proofs = {
      latestHead: (origin) => store.latestHead(origin),
      size: (origin) => store.size(origin),
      sizes: () => store.sizes(),
      // Built together, upper tree levels from the store's tree cache (docs/performance.md).
      inclusionProofs: (origin, requests) => store.inclusionProofs(origin, requests),
      consistencyProof: (origin, oldSize, newSize) =>
        store.consistencyProof(origin, oldSize, newSize),
    }
  }

  /**
   * Authenticates the session token (UNAUTHORIZED if it fails), then answers as that session.
   * A consistency request needs no session: like the checkpoint, it holds hashes only.
   */
  answer(
    token: string | undefined,
    request: QueryRequest,
  ): Promise<QueryAnswerJson | ConsistencyAnswerJson> {
    if (request.consistency !== undefined) {
      const { from } = (request.consistency ?? {}) as { from?: unknown }
      return answerConsistency(this.#opts, from)
    }
    let session: Session
    try {
      session = this.#opts.auth.authenticate(token)
    } catch (err) {
      // Counted like any other refused query (metrics), then refused.
      return this.#timed(() => Promise.reject(err))
    }
    return this.answerAs(session, request)
  }

  /**
   * Answers for a session authenticated at this node (HTTP: node/api/session.ts). Each call
   * takes one of the user's queries (RATE_LIMITED when none is left); a query refused for
   * that is not recorded, or a flood of them would write a flood of audit entries.
   */
  answerAs(session: Session, request: QueryRequest): Promise<QueryAnswerJson> {
    return this.#timed(() => this.#answerAs(session, request))
  }

  async #timed(run: () => Promise<QueryAnswerJson>): Promise<QueryAnswerJson> {
    const observe = this.#opts.observe
    if (!observe) return run()
    const started = performance.now()
    try {
      const answer = await run()
      observe('answered', performance.now() - started)
      return answer
    } catch (err) {
      observe(isEhrlogError(err) ? err.code : 'INTERNAL', performance.now() - started)
      throw err
    }
  }

  async #answerAs(session: Session, request: QueryRequest): Promise<QueryAnswerJson> {
    this.#limiter.take(session.sub)
    const filter = parseQueryFilter(request.filter ?? {})
    const limit = parseLimit(request.limit)
    if (request.cursor !== undefined && typeof request.cursor !== 'string')
      throw new EhrlogError('ARGUMENT_INVALID', 'cursor must be a string', {
        details: { field: 'cursor' },
      })
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor)
    let scoped: ReturnType<typeof scopeQuery>
    try {
      scoped = scopeQuery(session, filter)
    } catch (err) {
      if (err instanceof QueryRefused) {
        const reason = String(err.details.reason)
        await this.#record(session, request, filter, err.subject, `refused (${reason})`)
      }
      throw err
    }
    // The record's fsync overlaps reading and proving; nothing leaves before it is durable,
    // and a failed record fails the query. (Whether the answer shows this very query depends
    // on which finishes first; the next answer always does.)
    const [, answer] = await Promise.all([
      this.#record(session, request, scoped.filter, scoped.subject),
      this.#build(scoped.filter, after, limit),
    ])
    return answer
  }

  /**
   * One entry and its inclusion proof (GET /api/v1/proof/:entryId) for an active auditor or
   * admin session; the read is recorded like a query (action read), rate-limited like one.
   */
  proofAs(session: Session, entryId: string, via: QueryRequest['via']): Promise<ProofAnswerJson> {
    this.#limiter.take(session.sub)
    return readEntryProof(
      {
        store: this.#opts.store,
        checkpoints: this.#opts.checkpoints,
        record: ({ subject, entryId: id }) =>
          this.#save({
            patientId: subject,
            actorId: session.sub,
            action: 'read',
            resource: 'audit_log',
            time: (this.#opts.now?.() ?? new Date()).toISOString(),
            outcome: 'success',
            detail: actorKind(session, this.#opts.node),
            notes: `via ${via}, entry ${id} with its inclusion proof`,
          }),
      },
      session,
      entryId,
    )
  }

  async #build(
    filter: QueryFilter,
    after: ReturnType<typeof decodeCursor> | undefined,
    limit: number,
  ): Promise<QueryAnswerJson> {
    // One checkpoint for the whole answer: its entries' proofs and the completeness proof.
    const checkpoint = this.#opts.checkpoints.latest()
    const patientId = completenessPatientOf(filter)
    const { index } = this.#opts
    const completeness =
      index && checkpoint && patientId !== undefined
        ? completenessOf(index, patientId, checkpoint.checkpoint).catch((err: unknown) => {
            // E.g. a checkpoint adopted before its entries arrived: the client is told
            // "not proven", never a wrong proof.
            this.#opts.logger?.warn(
              { err: (err as Error).message },
              'answer sent without a completeness proof',
            )
            return undefined
          })
        : undefined
    const selection = await selectEntries(this.#opts.store, filter, after, limit)
    const answer = await buildAnswer(this.#proofs, {
      node: this.#opts.node,
      filter,
      selection,
      checkpoint,
    })
    const proof = await completeness
    return proof ? { ...answer, completeness: proof } : answer
  }

  async #record(
    session: Session,
    request: QueryRequest,
    filter: QueryFilter,
    subject: string,
    refused?: string,
  ): Promise<void> {
    const page = typeof request.cursor === 'string' ? ', next page' : ''
    // A refused query lands in the trail of the patient it named, which that patient reads:
    // the caller's filter values are free text of the caller's choosing ("SECURITY NOTICE:
    // call …"), so only the names of the filter's fields are recorded, never their values.
    const shown = refused
      ? `filter fields ${Object.keys(filter).sort().join(', ') || 'none'} (values not recorded: refused)`
      : `filter ${canonicalJson(filter)}`
    const who = actorKind(session, this.#opts.node)
    await this.#save({
      patientId: subject,
      actorId: session.sub,
      action: 'query',
      resource: 'audit_log',
      time: (this.#opts.now?.() ?? new Date()).toISOString(),
      outcome: refused ? 'failure' : 'success',
      detail: refused ? `${refused}, ${who}` : who,
      notes: `via ${request.via}${page}, ${shown}`,
    })
  }

  async #save(fields: Record<string, unknown>): Promise<void> {
    const event = parseEvent(fields)
    try {
      await this.#opts.record(event)
    } catch (cause) {
      // Fail closed: a query that cannot be recorded is not answered.
      throw new EhrlogError('UNAVAILABLE', 'the query could not be recorded: retry later', {
        cause,
      })
    }
  }
}

/**
 * What kind of account ran the query, written into the record's `detail` (ACTION_TYPE in the
 * CLI and the portal): a username is chosen by whoever registers it, so a patient reading
 * "hospital-security@hospital-c" in their trail must see that it is a self-registered
 * account, not the hospital's staff.
 */
export function actorKind(session: Session, node: string): string {
  const home = session.sub.slice(session.sub.indexOf('@') + 1)
  if (session.role === 'patient')
    return session.patientId === undefined
      ? `self-registered patient account, not verified by ${home}`
      : `patient account of ${home}`
  if (session.status !== 'active')
    return `self-registered ${session.role} account, not approved by ${home}`
  return `${session.role} of ${home}${home === node ? '' : `, asking ${node}`}`
}

function parseLimit(value: unknown): number {
  if (value === undefined) return QUERY_LIMITS.defaultLimit
  const n = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > QUERY_LIMITS.maxLimit) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `limit must be a whole number from 1 to ${QUERY_LIMITS.maxLimit}, got ${JSON.stringify(value)?.slice(0, 40)}`,
      { details: { field: 'limit' } },
    )
  }
  return n
}
