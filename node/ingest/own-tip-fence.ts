import { EhrlogError } from '../core/errors.ts'
import type { Logger } from '../logger.ts'

export interface OwnTipFenceOptions {
  /** This node's member name: the origin of its own feed. */
  self: string
  /** Every member's name, this node's included. */
  members: readonly string[]
  /** Entries of the own feed on disk now (LogStore.size(self)). */
  localSize: () => number
  /**
   * The operator's reason to open without a quorum (`ehrlog node start --override-fence`): a
   * brand-new network's first start, or members gone for good. Logged at warn, and recorded.
   */
  override?: string
  logger: Logger
  /** How often a closed fence looks again at the local size (default 100 ms). */
  pollMs?: number
  /** How long a quorum may claim more than this node can pull before that is logged (default 10 s). */
  unservedLogMs?: number
}

/** Why a fence opened. */
export type FenceOpening =
  | { by: 'single-member' }
  | { by: 'override'; reason: string }
  | { by: 'quorum'; claims: ReadonlyMap<string, number>; size: number }

/** Members needed to vouch for the own feed's tip, this node counted: a majority (as checkpoints). */
export function fenceQuorum(members: number): number {
  return Math.floor(members / 2) + 1
}

/**
 * The rule of the fence, pure: open when a quorum (this node plus enough members that told it
 * their size of its own feed) is reached and the local feed holds at least the largest size
 * any of them claimed. Returns the sizes claimed above the local size while closed.
 */
export function judgeFence(
  memberCount: number,
  claims: ReadonlyMap<string, number>,
  localSize: number,
): { open: boolean; quorum: boolean; ahead: Array<[string, number]> } {
  const quorum = claims.size + 1 >= fenceQuorum(memberCount)
  const ahead = [...claims].filter(([, size]) => size > localSize)
  return { open: quorum && ahead.length === 0, quorum, ahead }
}

/**
 * The fence on the node's own feed (docs/architecture.md, "One history per origin"): closed
 * at every start, so that a node started on a restored, swapped or rolled-back store never
 * signs an entry at a seq its feed already used. It opens once a quorum of members told it,
 * in a sync session, their size of its feed, and sync brought the local feed up to the
 * largest of those; at once in a one-member network or with the operator's override. It never
 * closes again while the node runs: only this node appends to its feed.
 */
export class OwnTipFence {
  readonly #opts: OwnTipFenceOptions
  readonly #claims = new Map<string, number>()
  #opening: FenceOpening | undefined
  #markOpen: () => void = () => {}
  readonly #opened: Promise<void>
  #timer: NodeJS.Timeout | undefined
  #quorumSince: number | undefined
  #unservedLogged = new Set<string>()
  #started = false
  #stopped = false

  constructor(opts: OwnTipFenceOptions) {
    this.#opts = opts
    this.#opened = new Promise((resolve) => {
      this.#markOpen = resolve
    })
  }

  /** Claims that arrived before start() count: they are judged at once. */
  async start(): Promise<void> {
    this.#started = true
    const { members, self, override, logger } = this.#opts
    if (members.length === 1 && members[0] === self) {
      this.#open({ by: 'single-member' })
    } else if (override !== undefined) {
      logger.warn(
        { reason: override, size: this.#opts.localSize() },
        'own-feed fence overridden by the operator: appending without learning the tip from a quorum',
      )
      this.#open({ by: 'override', reason: override })
    } else {
      logger.info(
        { size: this.#opts.localSize(), needed: fenceQuorum(members.length) - 1 },
        'own feed fenced: appends wait until a quorum of members told this node its tip',
      )
      this.#timer = setInterval(() => this.#judge(), this.#opts.pollMs ?? 100)
      this.#judge()
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
  }

  get isOpen(): boolean {
    return this.#opening !== undefined
  }

  /** How it opened, once it has. */
  get opening(): FenceOpening | undefined {
    return this.#opening
  }

  /** Settles when the fence opens (never, if the node stops first). */
  get opened(): Promise<void> {
    return this.#opened
  }

  /**
   * A member's size of this node's feed, from its state vector in a sync session (either
   * side); `member` undefined (a client) is ignored. A size only grows: the larger is kept.
   */
  noteClaim(member: string | undefined, size: number): void {
    if (member === undefined || member === this.#opts.self || this.isOpen) return
    if (!this.#opts.members.includes(member)) return
    this.#claims.set(member, Math.max(size, this.#claims.get(member) ?? 0))
    this.#judge()
  }

  /** Resolves true once open; false after `timeoutMs` if still closed. */
  async waitOpen(timeoutMs: number): Promise<boolean> {
    if (this.isOpen) return true
    if (timeoutMs <= 0) return false
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs)
    })
    try {
      return await Promise.race([this.#opened.then(() => true), timedOut])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Waits up to `timeoutMs`, then throws UNAVAILABLE saying what the fence waits for. */
  async assertOpen(timeoutMs: number): Promise<void> {
    if (await this.waitOpen(timeoutMs)) return
    throw new EhrlogError('UNAVAILABLE', `${this.#opts.self} is not appending yet: ${this.why()}`, {
      details: { origin: this.#opts.self },
    })
  }

  /** What a closed fence waits for, in words. */
  why(): string {
    const needed = fenceQuorum(this.#opts.members.length) - 1
    const { quorum, ahead } = judgeFence(
      this.#opts.members.length,
      this.#claims,
      this.#opts.localSize(),
    )
    if (!quorum) {
      return `its feed's tip is confirmed by ${this.#claims.size} of the ${needed} other members needed; waiting for them to be reachable`
    }
    const [member, size] = ahead[0] ?? ['?', 0]
    return `${member} holds ${size} entries of this node's feed, this node ${this.#opts.localSize()}; pulling them back`
  }

  #judge(): void {
    if (this.isOpen || this.#stopped || !this.#started) return
    const size = this.#opts.localSize()
    const verdict = judgeFence(this.#opts.members.length, this.#claims, size)
    if (verdict.open) {
      clearInterval(this.#timer)
      this.#opts.logger.info(
        { size, claims: Object.fromEntries(this.#claims) },
        'own-feed tip confirmed by a quorum of members: appending',
      )
      this.#open({ by: 'quorum', claims: new Map(this.#claims), size })
      return
    }
    if (!verdict.quorum) return
    this.#quorumSince ??= Date.now()
    if (Date.now() - this.#quorumSince < (this.#opts.unservedLogMs ?? 10_000)) return
    // Safety over liveness: a member that claims entries it then cannot serve keeps the
    // fence closed; appending would sign over them.
    for (const [member, claimed] of verdict.ahead) {
      const key = `${member}:${claimed}`
      if (this.#unservedLogged.has(key)) continue
      this.#unservedLogged.add(key)
      this.#opts.logger.error(
        { member, claimed, have: size },
        `${member} claims more entries of this node's feed than it has served: appends stay held`,
      )
    }
  }

  #open(opening: FenceOpening): void {
    this.#opening = opening
    this.#markOpen()
  }
}
