import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { EhrlogError, isEhrlogError } from '../../node/core/errors.ts'
import { fromHex } from '../../node/core/hex.ts'
import {
  type CheckedAnswer,
  crossCheckAnswers,
  parseQueryFilter,
  QUERY_LIMITS,
  type QueryFilter,
  type QueryScope,
  type QueryTrust,
  verifyQueryAnswer,
} from '../../node/core/query-answer.ts'
import { type Membership, QueryClient, type QueryTarget } from '../../node/net/index.ts'
import { NETWORK_FILE } from '../../node/node.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { type PageOutput, printPage } from '../format/query-output.ts'
import { callNode } from '../node-client.ts'
import { loadSession, type SavedSession, sessionHeaders } from '../session-store.ts'
import { loadMembership } from '../trust.ts'

export const FORMATS = ['table', 'json', 'csv', 'fhir'] as const
export type Format = (typeof FORMATS)[number]

/** Flags shared by query and export. */
export interface QueryFlags {
  patient?: string
  actor?: string
  action?: string
  resource?: string
  from?: string
  to?: string
  origin?: string
  kind?: string
  limit: number
  cursor?: string
  crossCheck: number
  network?: string
  dir?: string
  node?: string
}

/** One verified page: the raw answer, what verified, and every failure including cross-checks. */
export interface VerifiedPage extends PageOutput {
  answer: unknown
}

export function addQueryOptions(command: Command): Command {
  return command
    .option('--patient <id>', "only this patient's trail (a patient session: always its own)")
    .option('--actor <id>', 'only entries by this actor (clinician, staff, system)')
    .option('--action <action>', 'only this action (create, read, update, delete, print, …)')
    .option('--resource <name>', 'only this EHR table or FHIR resource type')
    .option('--from <iso>', 'event time from (inclusive), e.g. 2023-12-01T00:00Z')
    .option('--to <iso>', 'event time to (exclusive)')
    .option('--origin <node>', 'only entries recorded by this node')
    .option('--kind <kind>', 'event (default), user, alert or all: user and alert records too')
    .option(
      '--limit <n>',
      `at most this many entries per page (max ${QUERY_LIMITS.maxLimit})`,
      toCount(1, QUERY_LIMITS.maxLimit),
      QUERY_LIMITS.defaultLimit,
    )
    .option('--cursor <cursor>', 'continue after a previous page (printed as "next page")')
    .option(
      '--cross-check <n>',
      'ask n other members the same query and report entries a node left out',
      toCount(0, 16),
      1,
    )
    .option('--network <file>', 'your copy of network.json: what answers are verified against')
    .option('--dir <dir>', 'a node folder whose network.json to use')
    .option('--node <url>', 'ask this node over HTTP (default: libp2p to the members)')
}

export function registerQuery(program: Command, ctx: CliContext): void {
  addQueryOptions(
    program
      .command('query')
      .description(
        'query the audit log with your saved session and verify the answer yourself: inclusion proofs, signed heads, the cosigned checkpoint, and a cross-check for left-out entries',
      ),
  )
    .addOption(new Option('--format <format>', 'output').choices(FORMATS).default('table'))
    .action(async (opts: QueryFlags & { format: Format }) => {
      const session = await loadSession(ctx)
      const membership = await membershipOf(ctx, opts)
      const filter = filterOf(opts)
      const connection = new Connection(membership, session, opts.node)
      try {
        const page = await connection.verifiedPage(filter, opts.cursor, opts.limit, opts.crossCheck)
        printPage(ctx, page, opts.format, membership)
        if (page.failures.length > 0) ctx.exitCode = EXIT.verifyFailed
      } finally {
        await connection.close()
      }
    })
}

/** The filter flags, checked as the node will check them. */
export function filterOf(opts: QueryFlags): QueryFilter {
  const { patient, actor, action, resource, from, to, origin, kind } = opts
  return parseQueryFilter({ patient, actor, action, resource, from, to, origin, kind })
}

/** --network, else the --dir one, else network.json in the config folder (next to the session). */
export async function networkFileOf(
  ctx: CliContext,
  opts: { network?: string; dir?: string },
): Promise<string | undefined> {
  if (opts.network) return opts.network
  if (opts.dir) return join(opts.dir, NETWORK_FILE)
  const saved = ctx.configDir && join(ctx.configDir, NETWORK_FILE)
  if (!saved) return undefined
  return access(saved).then(
    () => saved,
    () => undefined,
  )
}

export async function membershipOf(
  ctx: CliContext,
  opts: { network?: string; dir?: string },
): Promise<Membership> {
  const network = await networkFileOf(ctx, opts)
  return loadMembership(network === undefined ? {} : { network })
}

/** The scope the session's token claims: a patient's bound id, checked again on every entry. */
export function scopeOf(session: SavedSession): QueryScope {
  try {
    const claims = JSON.parse(
      Buffer.from(session.token.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as { role?: string; patientId?: unknown }
    if (claims.role === 'patient' && typeof claims.patientId === 'string')
      return { patientId: claims.patientId }
  } catch {}
  return {}
}

function issuerOf(session: SavedSession): string | undefined {
  try {
    const claims = JSON.parse(
      Buffer.from(session.token.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as { iss?: unknown }
    return typeof claims.iss === 'string' ? claims.iss : undefined
  } catch {
    return undefined
  }
}

/** What the client trusts: its own membership, nothing the node says. */
export function trustOf(
  membership: Membership,
  filter: QueryFilter,
  scope: QueryScope,
  cursor: string | undefined,
  verifiedCheckpoints?: Map<string, number[]>,
): QueryTrust {
  return {
    ...(verifiedCheckpoints ? { verifiedCheckpoints } : {}),
    networkId: fromHex(membership.networkId, 32)!,
    blsKeys: membership.members.map((m) => fromHex(m.blsPublicKey, 48)!),
    ed25519Keys: new Map(membership.members.map((m) => [m.name, fromHex(m.ed25519PublicKey, 32)!])),
    filter,
    scope,
    ...(cursor === undefined ? {} : { cursor }),
  }
}

/** Waiting out a node's RATE_LIMITED instead of failing: for commands that ask many pages. */
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
  readonly #verifiedCheckpoints = new Map<string, number[]>()

  constructor(
    readonly membership: Membership,
    readonly session: SavedSession,
    readonly httpUrl: string | undefined,
    readonly rateLimitWait?: RateLimitWait,
  ) {}

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
    const trust = trustOf(
      this.membership,
      filter,
      scopeOf(this.session),
      cursor,
      this.#verifiedCheckpoints,
    )
    const request = { filter, limit, ...(cursor === undefined ? {} : { cursor }) }
    const primary = await this.#askPrimary(request)
    const result = verifyQueryAnswer(primary.answer, trust)
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
        // A member that is down or has had enough of this user's queries is not a verdict on
        // the primary's answer: the next member is asked instead.
        if (!isEhrlogError(err, 'UNAVAILABLE') && !isEhrlogError(err, 'RATE_LIMITED')) throw err
        page.notes.push(`cross-check: ${target.name} did not answer (${err.code}: ${err.message})`)
        continue
      }
      const other = verifyQueryAnswer(answer, trust)
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

  #askPrimary(request: object): Promise<{ node: string; answer: unknown }> {
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
    for (const target of this.members()) {
      try {
        return { node: target.name, answer: await this.#ask(target, request) }
      } catch (err) {
        if (!isEhrlogError(err, 'UNAVAILABLE')) throw err
        unreachable.push(err.message)
      }
    }
    throw new EhrlogError('UNAVAILABLE', `no member answered: ${unreachable.join('; ')}`)
  }

  async #ask(target: QueryTarget, request: object): Promise<unknown> {
    this.#client ??= QueryClient.start()
    const client = await this.#client
    return this.#patiently(() =>
      client.query(target, {
        networkId: this.membership.networkId,
        token: this.session.token,
        ...request,
      } as Parameters<QueryClient['query']>[1]),
    )
  }
}

/** A commander parser for a whole number in [min, max]. */
export function toCount(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`want a whole number from ${min} to ${max}, got ${text}`)
    return n
  }
}
