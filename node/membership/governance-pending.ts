import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { canonicalJson } from '../core/canonical-json.ts'
import { EhrlogError } from '../core/errors.ts'
import { parseSignedProposal, type SignedProposal } from '../core/trust/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import type { Logger } from '../logger.ts'
import { MEMBERSHIP_DIR } from './live-membership.ts'

/*
 * What governance keeps of its pending proposals across a restart (docs/storage.md, "The node
 * folder"): membership/pending.json, written atomically after each change of the pool, and the
 * proposals on versions this node does not hold yet (it is behind), kept until it catches up.
 * Nothing in the file is trusted: at start every proposal is checked again as a gossiped copy.
 */

/** membership/pending.json under the node folder. */
export const PENDING_FILE = join(MEMBERSHIP_DIR, 'pending.json')
export const PENDING_FILE_VERSION = 1

/** Copies kept for versions this node does not hold yet; the oldest goes first when full. */
export const MAX_AHEAD_COPIES = 32
/** How far past the version it holds a proposal may be and still be kept (else refused). */
export const MAX_VERSIONS_AHEAD = 8

export interface PendingProposals {
  /** The pool's proposals, each with every signature merged so far. */
  proposals: SignedProposal[]
  /** Copies on versions this node did not hold yet, unverified. */
  ahead: SignedProposal[]
}

/**
 * Reads membership/pending.json. A missing file is an empty pool; a file that is not the
 * format, or a proposal in it that is not one, is reported through `dropped` (with the code
 * and why) and left out: nothing here is trusted before the caller checks it.
 */
export async function readPending(
  dir: string,
  dropped: (code: string, message: string) => void,
): Promise<PendingProposals> {
  const path = join(dir, PENDING_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { proposals: [], ahead: [] }
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    dropped('FILE_INVALID', `${PENDING_FILE} is not JSON: its proposals come again by gossip`)
    return { proposals: [], ahead: [] }
  }
  const file = value as { v?: unknown; proposals?: unknown; ahead?: unknown }
  if (
    typeof value !== 'object' ||
    value === null ||
    file.v !== PENDING_FILE_VERSION ||
    !Array.isArray(file.proposals) ||
    !Array.isArray(file.ahead)
  ) {
    dropped('FILE_INVALID', `${PENDING_FILE} is not version ${PENDING_FILE_VERSION} of its format`)
    return { proposals: [], ahead: [] }
  }
  const parse = (list: unknown[], name: string) =>
    list.flatMap((item, i) => {
      try {
        return [parseSignedProposal(item, `${PENDING_FILE}: ${name}.${i}`)]
      } catch (err) {
        const e = err as EhrlogError
        dropped(e.code, e.message)
        return []
      }
    })
  return { proposals: parse(file.proposals, 'proposals'), ahead: parse(file.ahead, 'ahead') }
}

/** Replaces membership/pending.json with `pending`, atomically (mode 0600). */
export async function writePending(dir: string, pending: PendingProposals): Promise<void> {
  await mkdir(join(dir, MEMBERSHIP_DIR), { recursive: true, mode: 0o700 })
  const text = `${JSON.stringify({ v: PENDING_FILE_VERSION, ...pending }, null, 1)}\n`
  await writeFileAtomic(join(dir, PENDING_FILE), text, { mode: 0o600 })
}

/**
 * Copies of proposals on versions this node does not hold yet (it is behind the network):
 * their signers cannot be checked until it holds the version they are on, so they are neither
 * trusted nor forwarded, only kept (bounded) and handed back once it has caught up.
 */
export class AheadProposals {
  /** By the RFC 8785 JSON of the copy: each distinct copy once, oldest first. */
  readonly #copies = new Map<string, SignedProposal>()

  get size(): number {
    return this.#copies.size
  }

  /**
   * Keeps a copy on a version past `holds` (the newest version this node can check proposals
   * on). CHANGE_OUT_OF_ORDER when it is more than MAX_VERSIONS_AHEAD past the current version:
   * no network runs that far ahead of a member that still follows it.
   */
  keep(signed: SignedProposal, current: number): void {
    const base = signed.proposal.baseVersion
    if (base > current + MAX_VERSIONS_AHEAD)
      throw new EhrlogError(
        'CHANGE_OUT_OF_ORDER',
        `the proposal applies to version ${base}, more than ${MAX_VERSIONS_AHEAD} versions past this node's version ${current}: not kept`,
        { details: { field: 'proposal.baseVersion', version: current, base } },
      )
    const key = canonicalJson(signed)
    this.#copies.delete(key)
    this.#copies.set(key, signed)
    while (this.#copies.size > MAX_AHEAD_COPIES)
      this.#copies.delete(this.#copies.keys().next().value as string)
  }

  /** Removes and returns the copies on versions up to `upTo`, by version, oldest first. */
  takeUpTo(upTo: number): SignedProposal[] {
    const out: SignedProposal[] = []
    for (const [key, signed] of this.#copies)
      if (signed.proposal.baseVersion <= upTo) {
        out.push(signed)
        this.#copies.delete(key)
      }
    return out.sort((a, b) => a.proposal.baseVersion - b.proposal.baseVersion)
  }

  all(): SignedProposal[] {
    return [...this.#copies.values()]
  }
}

/** membership/pending.json of one node folder: saves in order, each replacing the last. */
export class PendingFile {
  readonly #dir: string
  readonly #logger: Logger
  #saving: Promise<void> = Promise.resolve()

  constructor(dir: string, logger: Logger) {
    this.#dir = dir
    this.#logger = logger
  }

  /**
   * The saved proposals, by base version: the pool's `quiet` (recorded and emailed when first
   * taken, with the admin who acted: not again), then the copies kept while behind.
   */
  async load(): Promise<Array<{ signed: SignedProposal; quiet: boolean }>> {
    const saved = await readPending(this.#dir, (code, message) => this.dropped(code, message))
    return [
      ...saved.proposals.map((signed) => ({ signed, quiet: true })),
      ...saved.ahead.map((signed) => ({ signed, quiet: false })),
    ].sort((a, b) => a.signed.proposal.baseVersion - b.signed.proposal.baseVersion)
  }

  /** Logs a saved proposal (or the file) left out, with the code why. */
  dropped(code: string, message: string, id?: string): void {
    this.#logger.warn({ code, id }, `membership: dropped a saved pending proposal: ${message}`)
  }

  /** Queues a save of `pending` (a snapshot); a failure is logged, the next save retries it. */
  save(pending: PendingProposals): void {
    this.#saving = this.#saving
      .then(() => writePending(this.#dir, pending))
      .catch((err: unknown) =>
        this.#logger.error(
          { err: (err as Error).message },
          'membership: could not save the pending proposals',
        ),
      )
  }

  /** Resolves once every save queued so far is on disk (or failed and was logged). */
  saved(): Promise<void> {
    return this.#saving
  }
}
