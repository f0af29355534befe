import type { QueryFilter, QueryScope } from '../../core/trust/index.ts'

/**
 * The offline bundle `ehrlog verify-bundle` checks (docs/query.md, "Offline bundles"), built in
 * the browser from the answers it verified, exactly as the node sent them. The same fields
 * `ehrlog export` writes (client/verify/bundle.ts; node/ does not import client/, so the
 * format name is repeated here and a test checks that the CLI accepts what the page makes).
 * Unsigned: the page never holds the login key after sign-in.
 */
export const BUNDLE_FORMAT = 'ehrlog-bundle/1'

export interface BrowserBundleSource {
  createdBy: string
  filter: QueryFilter
  scope: QueryScope
  /** The cursor the first answer started after (an auditor's `cursor=`). */
  startCursor: string | undefined
  /** network.json as the node served it (its id was checked against it). */
  network: unknown
  /** The signed membership changes up to the newest version the answers' checkpoints name. */
  membership?: readonly unknown[]
  answers: readonly unknown[]
  /** The last answer's next page: undefined when the page reached the end. */
  next: string | undefined
}

/**
 * The bundle's JSON text. `end` is `complete` when the last answer has no next page; `max`
 * (with `max` = entries loaded) when the rest was not loaded, which verify-bundle reports as
 * INCOMPLETE.
 */
export function bundleJson(source: BrowserBundleSource, now = new Date()): string {
  const entries = source.answers.reduce<number>((n, a) => {
    const list = (a as { entries?: unknown } | null)?.entries
    return n + (Array.isArray(list) ? list.length : 0)
  }, 0)
  const bundle = {
    format: BUNDLE_FORMAT,
    createdAt: now.toISOString(),
    createdBy: source.createdBy,
    filter: source.filter,
    scope: source.scope,
    ...(source.startCursor === undefined ? {} : { cursor: source.startCursor }),
    network: source.network,
    membership: source.membership ?? [],
    answers: source.answers,
    end: source.next === undefined ? 'complete' : 'max',
    max: entries,
  }
  return `${JSON.stringify(bundle)}\n`
}
