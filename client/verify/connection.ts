import { EhrlogError, isEhrlogError } from '../../node/core/errors.ts'
import {
  type AnswerCheck,
  type CheckedAnswer,
  crossCheckAnswers,
  type Membership,
  type MembershipHistory,
  type QueryFilter,
  type VerifiedCheckpoints,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'
import { QueryClient, type QueryTarget } from '../../node/net/index.ts'
import type { PageOutput } from '../format/query-output.ts'
import { callNode } from '../node-client.ts'
import { type SavedSession, sessionHeaders } from '../session-store.ts'
import { issuerOf, scopeOf } from './session-claims.ts'

/** One verified page: the raw answer, what verified, and every failure including cross-checks. */
export interface VerifiedPage extends PageOutput {
  answer: unknown
}

/** Waiting out a node's RATE_LIMITED instead of failing, from the second page on: for commands that ask many pages. */
export interface RateLimitWait {
  /** Longest wait accepted for one query; a longer Retry-After fails as usual. */
  maxSeconds: number
  /** Told before each wait (the CLI prints it to stderr). */
  notify: (message: string) => void
}

/**
 * Where queries go: --node URL over HTTP, else the members' /ehrlog/query/1.0.0 over libp2p,
 * the session's issuing node first. Cross-checks always go over libp2p to other members.
 */
export class Connection {
  #client: Promise<QueryClient> | undefined
  /** Pages and cross-checks mostly share a checkpoint: its BLS check is done once. */
  readonly #verifiedCheckpoints: VerifiedCheckpoints = new Map()

  /**
   * `history`: the pinned genesis through the verified membership changes; each answer's
   * checkpoint is verified under the version it names, and the members asked are the newest
   * version's.
   */
  constructor(
    readonly history: MembershipHistory,
    readonly session: SavedSession,
    readonly httpUrl: string | undefined,
    readonly rateLimitWait?: RateLimitWait,
  ) {}

  /** The members of the newest version held: who is asked. */
  get membership(): Membership {
    return this.history.current
  }

  /** Members in the order they are asked: the session's issuer first, then network.json order. */
  members(): QueryTarget[] {
    const issuer = issuerOf(this.session)
    const all = [...this.membership.members]
    return [...all.filter((m) => m.name === issuer), ...all.filter((m) => m.name !== issuer)]
  }

  async verifiedPage(
    filter: QueryFilter,
    cursor: string | undefined,
    limit: number,
    crossCheck: number,
  ): Promise<VerifiedPage> {
    const check: AnswerCheck = {
      keys: this.membership.keys,
      history: this.history,
      filter,
      scope: scopeOf(this.session),
      ...(cursor === undefined ? {} : { cursor }),
      verifiedCheckpoints: this.#verifiedCheckpoints,
    }
    const request = { filter, limit, ...(cursor === undefined ? {} : { cursor }) }
    const primary = await this.#askPrimary(request)
    const result = verifyQueryAnswer(primary.answer, check)
    const next = (primary.answer as { next?: unknown } | null)?.next
    const page: VerifiedPage = {
      node: primary.node,
      answer: primary.answer,
      result,
      failures: [...result.failures],
      crossChecked: [],
      notes: [],
      ...(typeof next === 'string' ? { next } : {}),
    }
    if (crossCheck === 0) return page
    const self: CheckedAnswer = { node: primary.node, result }
    for (const target of this.members().filter((m) => m.name !== primary.node)) {
      if (page.crossChecked.length >= crossCheck) break
      let answer: unknown
      try {
        answer = await this.#ask(target, request)
      } catch (err) {
        // A member that is down, repairing a damaged replica, or has had enough of this user's
        // queries is not a verdict on the primary's answer: the next member is asked instead.
        if (
          !isEhrlogError(err, 'UNAVAILABLE') &&
          !isEhrlogError(err, 'RATE_LIMITED') &&
          !isEhrlogError(err, 'STORE_CORRUPT')
        )
          throw err
        page.notes.push(`cross-check: ${target.name} did not answer (${err.code}: ${err.message})`)
        continue
      }
      const other = verifyQueryAnswer(answer, check)
      page.failures.push(
        ...other.failures.map((f) => ({ ...f, reason: `from ${target.name}: ${f.reason}` })),
        ...crossCheckAnswers(self, { node: target.name, result: other }),
      )
      page.crossChecked.push(target.name)
    }
    if (page.crossChecked.length < crossCheck)
      page.notes.push(
        `cross-checked with ${page.crossChecked.length} of the ${crossCheck} members asked for`,
      )
    return page
  }

  async close(): Promise<void> {
    const client = this.#client
    this.#client = undefined
    if (client) await (await client).stop()
  }

  /**
   * Runs `ask`; when the node answers RATE_LIMITED and a wait is allowed, waits the node's
   * `retryAfterSeconds` and asks again (a few times at most).
   */
  async #patiently<T>(ask: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await ask()
      } catch (err) {
        const wait = this.rateLimitWait
        const seconds = Number(isEhrlogError(err) ? err.details.retryAfterSeconds : Number.NaN)
        if (
          !wait ||
          !isEhrlogError(err, 'RATE_LIMITED') ||
          !(seconds > 0 && seconds <= wait.maxSeconds) ||
          attempt >= 5
        )
          throw err
        wait.notify(`${err.message}: waiting ${seconds} s`)
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
      }
    }
  }

  /**
   * A follow-up page waits out RATE_LIMITED (the command is halfway through); a first page
   * does not: the user has spent this node's allowance, which the error says with when to retry.
   */
  #askPrimary(request: { cursor?: string }): Promise<{ node: string; answer: unknown }> {
    if (request.cursor === undefined) return this.#askPrimaryOnce(request)
    return this.#patiently(() => this.#askPrimaryOnce(request))
  }

  async #askPrimaryOnce(request: object): Promise<{ node: string; answer: unknown }> {
    if (this.httpUrl) {
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(request)) {
        if (k === 'filter') for (const [f, x] of Object.entries(v)) params.set(f, String(x))
        else params.set(k, String(v))
      }
      const url = this.httpUrl.replace(/\/+$/, '')
      const answer = await callNode<unknown>(
        { url, token: undefined },
        'GET',
        `/api/v1/query?${params}`,
        undefined,
        sessionHeaders(this.session),
      )
      const node = (answer as { node?: unknown })?.node
      return { node: typeof node === 'string' ? node : url, answer }
    }
    const unreachable: string[] = []
    let damaged = false
    for (const target of this.members()) {
      try {
        return { node: target.name, answer: await this.#ask(target, request) }
      } catch (err) {
        // A member whose replica is damaged repairs it from its peers: ask the next one.
        const corrupt = isEhrlogError(err, 'STORE_CORRUPT')
        if (!corrupt && !isEhrlogError(err, 'UNAVAILABLE')) throw err
        damaged ||= corrupt
        unreachable.push(err.message)
      }
    }
    throw new EhrlogError(
      damaged ? 'STORE_CORRUPT' : 'UNAVAILABLE',
      `no member answered: ${unreachable.join('; ')}`,
    )
  }

  async #ask(target: QueryTarget, request: object): Promise<unknown> {
    this.#client ??= QueryClient.start()
    const client = await this.#client
    return client.query(target, {
      networkId: this.membership.networkId,
      token: this.session.token,
      ...request,
    } as Parameters<QueryClient['query']>[1])
  }
}
