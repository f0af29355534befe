import {
  type CheckedPage,
  type Failure,
  type MembershipHistory,
  type NetworkKeys,
  type QueryFilter,
  type QueryScope,
  type QueryVerification,
  type VerifiedCheckpoints,
  type VerifiedEntry,
  verifyQueryAnswer,
} from '../../core/trust/index.ts'
import { getJson } from './api.ts'

/** Pages asked per load: the rest waits for "Load more" (each page is a recorded query). */
export const PAGES_PER_LOAD = 10
/** Entries per page unless the address says `limit=` (the node allows 1–1000). */
export const DEFAULT_PAGE_LIMIT = 500

/** The node answered an error, not an answer: its status, code and message. */
export class NodeRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Everything loaded so far: the answers exactly as the node sent them (for the offline bundle)
 * and what verified in them. Pages chain by cursor, each verified after the previous one's
 * `next`, as `ehrlog export` and `ehrlog verify-bundle` chain them.
 */
export class TrailLoader {
  readonly answers: unknown[] = []
  readonly verified: VerifiedEntry[] = []
  /** Each answer with its verification: the completeness check needs them all. */
  readonly pages: CheckedPage[] = []
  readonly failures: Failure[] = []
  /** The latest page's verification (its checkpoint and cosigners). */
  last: QueryVerification | undefined
  /** The cursor of the next page; undefined once the node said there is none. */
  next: string | undefined
  readonly #checkpoints: VerifiedCheckpoints = new Map()

  constructor(
    readonly keys: NetworkKeys,
    readonly filter: QueryFilter,
    readonly scope: QueryScope,
    readonly limit: number,
    /** Where the first page starts (an auditor's `cursor=`); undefined: the beginning. */
    readonly startCursor: string | undefined,
    /**
     * The pinned genesis through the verified membership changes: each checkpoint is verified
     * under the version it names. Absent: `keys` must be of that version.
     */
    readonly history?: MembershipHistory,
  ) {
    this.next = startCursor
  }

  /** Whether the node has said its last page. */
  get done(): boolean {
    return this.answers.length > 0 && this.next === undefined
  }

  /** Asks up to `pages` more pages; throws NodeRefusal when the node answers an error. */
  async load(pages = PAGES_PER_LOAD): Promise<void> {
    for (let i = 0; i < pages && !this.done; i++) await this.#loadPage()
  }

  async #loadPage(): Promise<void> {
    const cursor = this.next
    const query = new URLSearchParams(this.filter as Record<string, string>)
    query.set('limit', String(this.limit))
    if (cursor !== undefined) query.set('cursor', cursor)
    const answer = await getJson<unknown>(`/api/v1/query?${query}`)
    if (!answer.ok) {
      const error = answer.body.error
      throw new NodeRefusal(answer.status, error?.code, error?.message ?? `HTTP ${answer.status}`)
    }
    const result = verifyQueryAnswer(answer.body, {
      keys: this.keys,
      ...(this.history ? { history: this.history } : {}),
      filter: this.filter,
      scope: this.scope,
      ...(cursor === undefined ? {} : { cursor }),
      verifiedCheckpoints: this.#checkpoints,
    })
    this.answers.push(answer.body)
    this.pages.push({ answer: answer.body, result })
    this.verified.push(...result.verified)
    this.failures.push(...result.failures)
    this.last = result
    const next = (answer.body as { next?: unknown }).next
    this.next = typeof next === 'string' ? next : undefined
  }
}
