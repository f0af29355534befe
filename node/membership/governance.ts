import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import { ed25519RawPublicKey } from '../core/tree-head.ts'
import {
  applyProposal,
  describeVersion,
  type MembershipChange,
  type MembershipEquivocation,
  type MembershipVersion,
  proposeChange,
  type SignedProposal,
} from '../core/trust/index.ts'
import type { MembershipRecord } from '../core/trust/membership-record.ts'
import type { Logger } from '../logger.ts'
import type { GovernanceNotice } from './governance-mail.ts'
import { decodeGovernanceMessage, encodeGovernanceMessage } from './governance-messages.ts'
import { noticeOf } from './governance-notices.ts'
import { AheadProposals, PendingFile } from './governance-pending.ts'
import { GovernancePool, type Merged, type PooledProposal, proposalId } from './governance-pool.ts'
import { type GovernanceView, type ProposalView, proposalView, viewOf } from './governance-view.ts'
import { type MemberKeys, needsOldKey, recordVote, signAsMember } from './governance-votes.ts'
import type { LiveMembership } from './live-membership.ts'
import { rotatedOutSignature } from './rotated-out-key.ts'

export interface GovernanceOptions {
  live: LiveMembership
  /** This node's keys: its Ed25519 key signs changes when (and only when) an admin asks. */
  keys: MemberKeys
  /** The node folder (membership-votes.json, membership/pending.json). */
  dir: string
  /** Publishes on the member-only membership topic. */
  publish: (data: Uint8Array) => Promise<void>
  /** Appends a `membership` entry to this node's own feed. */
  record: (body: MembershipRecord) => Promise<void>
  /** Emails this node's admins (AlertService.notify with renderNotice). */
  notify: (notice: GovernanceNotice) => Promise<void>
  /**
   * Whether this notice was emailed already (AlertService.isKnown): after a restart the pool
   * comes back by gossip, and what was recorded and emailed then is not again.
   */
  known?: (notice: GovernanceNotice) => Promise<boolean>
  logger: Logger
  /** The pending proposals are gossiped again this often (late or restarted members). Default 30 s; 0: never. */
  republishMs?: number
}

/** A key that a change took away, used after it (m16node's head check reports these). */
export interface RotatedKeyUse {
  member: string
  key: 'ed25519' | 'bls' | 'libp2p'
  /** The version from which the key is no longer the member's. */
  version: number
  /** What it signed, in words (e.g. "a tree head of hospital-b at size 42"). */
  what: string
  evidence: unknown
}

/**
 * Membership governance on a node (docs/architecture.md, "A network that can change"): the
 * proposals and signatures gossiped on the member-only topic, merged into a bounded pool; a
 * proposal a quorum signed goes to LiveMembership.offer and applies at the next checkpoint cut.
 * The node signs only when an admin asks (propose, sign), at most one change per version.
 * Every proposal, signature and applied change is recorded in the own feed and emailed to the
 * admins; a fork, a rotation of a lost key and a rotated-out key's use are alerts.
 */
export class GovernanceService {
  readonly #opts: GovernanceOptions
  readonly #pool = new GovernancePool()
  /** Copies on versions this node does not hold yet (governance-pending.ts). */
  readonly #ahead = new AheadProposals()
  readonly #file: PendingFile
  /** One step at a time: gossip, admin actions and applied changes touch the same pool. */
  #queue: Promise<unknown> = Promise.resolve()
  #unsubscribe: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #alerted = new Set<string>()
  #stopped = false
  #writes: Promise<void> = Promise.resolve()

  constructor(opts: GovernanceOptions) {
    this.#opts = opts
    this.#file = new PendingFile(opts.dir, opts.logger)
  }

  /** The membership this service follows and offers accepted changes to. */
  get live(): LiveMembership {
    return this.#opts.live
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#opts.live.onChange((_now, _before, change) => {
      void this.#serial(() => this.#applied(change)).catch((err: unknown) =>
        this.#opts.logger.error(
          { err: (err as Error).message },
          'membership: could not record an applied change',
        ),
      )
    })
    await this.#serial(() => this.#reload())
    const every = this.#opts.republishMs ?? 30_000
    if (every > 0) {
      this.#timer = setInterval(() => void this.#republish(), every)
      this.#timer.unref()
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    clearInterval(this.#timer)
    await this.#queue.catch(() => {})
    await this.#writes
    await this.#file.saved()
  }

  /**
   * The control-topic handler: true takes (and forwards) the message, false drops it; 'ignore'
   * keeps a proposal on a version this node does not hold yet, unforwarded (it cannot check it).
   */
  async handle(data: Uint8Array, fromMember: string): Promise<boolean | 'ignore'> {
    if (this.#stopped) return false
    const signed = decodeGovernanceMessage(data)
    try {
      return (await this.#serial(() => this.#receive(signed))) ? true : 'ignore'
    } catch (err) {
      if (!isEhrlogError(err)) throw err
      if (err.code === 'INVALID_SIGNATURE') await this.#serial(() => this.#rotatedOut(signed))
      this.#opts.logger.warn(
        { from: fromMember, code: err.code, field: err.details.field, id: proposalId(signed) },
        `membership: dropped a proposal: ${err.message}`,
      )
      return false
    }
  }

  /** An admin of this node proposes `change` on the current version; this node signs it. */
  propose(admin: string, change: MembershipChange): Promise<ProposalView> {
    return this.#serial(async () => {
      // With a change waiting for its cut, the next change goes on the version it makes.
      const base = this.#next() ?? this.#current()
      this.#checkSelf(base)
      const { name } = this.#opts.keys
      let signed: SignedProposal = { proposal: proposeChange(base, name, change), signatures: [] }
      // Checked (the pool's merge) before the vote is kept: a refused change uses no vote.
      const draft = await signAsMember(signed, this.#opts.keys)
      new GovernancePool().merge(base, draft)
      await recordVote(this.#opts.dir, name, signed.proposal)
      signed = draft
      const merged = await this.#take(signed, admin)
      await this.#opts.publish(encodeGovernanceMessage(merged.entry.signed))
      return this.#viewOf(merged.entry)
    })
  }

  /** An admin of this node signs the pending proposal `id` with the node's key. */
  sign(admin: string, id: string): Promise<ProposalView> {
    return this.#serial(async () => {
      const entry = this.#pool.get(id)
      if (!entry)
        throw new EhrlogError(
          'NOT_FOUND',
          `no pending proposal ${id.slice(0, 16)}…: list them with ehrlog network show --node URL`,
          { details: { field: 'id' } },
        )
      const base = this.#baseOf(entry.signed)
      this.#checkSelf(base)
      const { name } = this.#opts.keys
      if (entry.signers.includes(name) && !needsOldKey(entry.signed, name))
        return this.#viewOf(entry)
      await recordVote(this.#opts.dir, name, entry.signed.proposal)
      const merged = await this.#take(await signAsMember(entry.signed, this.#opts.keys), admin)
      await this.#opts.publish(encodeGovernanceMessage(merged.entry.signed))
      return this.#viewOf(merged.entry)
    })
  }

  /** Versions, the change waiting for the cut, and the proposals being signed. */
  view(): GovernanceView {
    return viewOf(this.#opts.live, this.#pool.all(), this.#next())
  }

  proposal(id: string): ProposalView {
    const entry = this.#pool.get(id)
    if (!entry)
      throw new EhrlogError('NOT_FOUND', `no pending proposal ${id.slice(0, 16)}…`, {
        details: { field: 'id' },
      })
    return this.#viewOf(entry)
  }

  /** Alerts that a key a change took away signed something after it (recorded and emailed). */
  reportRotatedKeyUse(use: RotatedKeyUse): Promise<void> {
    return this.#serial(() =>
      this.#alert(
        {
          op: 'alert',
          alert: 'rotated-key-signature',
          members: [use.member],
          ids: [],
          version: use.version,
          summary:
            `${use.member}'s ${use.key} key, replaced or removed at membership version ${use.version}, signed ${use.what}: refused`.slice(
              0,
              500,
            ),
        },
        use.evidence,
      ),
    )
  }

  /** A signature by a key a change took from its member: alerted (rotated-out-key.ts). */
  async #rotatedOut(signed: SignedProposal): Promise<void> {
    const found = rotatedOutSignature(this.#opts.live.history.versions, this.#next(), signed)
    if (!found) return
    await this.#alert(
      {
        op: 'alert',
        alert: 'rotated-key-signature',
        members: [found.signer],
        ids: [proposalId(signed)],
        version: found.until,
        summary: `${found.signer}'s ed25519 key, replaced or removed at membership version ${found.until}, signed a membership proposal on version ${signed.proposal.baseVersion}: refused`,
      },
      signed,
    )
  }

  /** Takes a copy into the pool, or keeps it for later when it is on a version past this node's (false). */
  async #receive(signed: SignedProposal, quiet = false): Promise<boolean> {
    const holds = (this.#next() ?? this.#current()).number
    const { networkId, baseVersion } = signed.proposal
    if (networkId !== this.#current().networkId || baseVersion <= holds) {
      await this.#take(signed, undefined, quiet)
      return true
    }
    this.#ahead.keep(signed, this.#current().number)
    const why = 'membership: kept a proposal on a version this node does not hold yet'
    this.#opts.logger.info({ id: proposalId(signed), base: baseVersion, holds }, why)
    this.#save()
    return false
  }

  /** The copies kept from before this node caught up, now on versions it holds: taken or dropped. */
  async #considerAhead(): Promise<void> {
    for (const signed of this.#ahead.takeUpTo((this.#next() ?? this.#current()).number))
      await this.#take(signed).catch(async (err: unknown) => {
        if (!isEhrlogError(err)) throw err
        if (err.code === 'INVALID_SIGNATURE') await this.#rotatedOut(signed)
        this.#opts.logger.warn(
          { code: err.code, field: err.details.field, id: proposalId(signed) },
          `membership: dropped a proposal kept while this node was behind: ${err.message}`,
        )
      })
    this.#save()
  }

  /** At start: membership/pending.json's proposals, each checked again as a gossiped copy. */
  async #reload(): Promise<void> {
    for (const { signed, quiet } of await this.#file.load())
      await this.#receive(signed, quiet).catch((err: unknown) => {
        if (!isEhrlogError(err)) throw err
        this.#file.dropped(err.code, err.message, proposalId(signed))
      })
    this.#save()
  }

  /** Saves the pool as it is now to membership/pending.json (after a step that changed it). */
  #save(): void {
    this.#file.save({ proposals: this.#pool.all().map((e) => e.signed), ahead: this.#ahead.all() })
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step, step)
    this.#queue = run.catch(() => {})
    return run
  }

  #current(): MembershipVersion {
    return this.#opts.live.history.versions.at(-1)!
  }

  /** The version the pending change makes, where proposals may already be signed. */
  #next(): MembershipVersion | undefined {
    const pending = this.#opts.live.pending
    return pending ? applyProposal(this.#current(), pending) : undefined
  }

  /** The version a proposal is on, if this node can check it; else the code why not. */
  #baseOf(signed: SignedProposal): MembershipVersion {
    const current = this.#current()
    const next = this.#next()
    const { networkId, baseVersion, baseHash } = signed.proposal
    const at = describeVersion(next ?? current)
    if (networkId !== current.networkId)
      throw new EhrlogError(
        'CHAIN_BROKEN',
        `the proposal is for network ${networkId.slice(0, 16)}…, not ${current.networkId.slice(0, 16)}…`,
        { details: { field: 'proposal.networkId' } },
      )
    for (const v of next ? [current, next] : [current]) {
      if (baseVersion !== v.number) continue
      if (baseHash !== v.hash)
        throw new EhrlogError(
          'CHAIN_BROKEN',
          `the proposal applies to a version ${baseVersion} with hash ${baseHash.slice(0, 8)}…, not ${describeVersion(v)}: another chain`,
          { details: { field: 'proposal.baseHash', version: v.number } },
        )
      return v
    }
    if (baseVersion < current.number)
      throw new EhrlogError(
        'CHANGE_REPLAYED',
        `the proposal applies to version ${baseVersion}, which this node's ${at} already follows: a change is applied once`,
        { details: { field: 'proposal.baseVersion', version: current.number, base: baseVersion } },
      )
    throw new EhrlogError(
      'CHANGE_OUT_OF_ORDER',
      `the proposal applies to version ${baseVersion}, but this node is at ${at}: the changes in between are missing`,
      { details: { field: 'proposal.baseVersion', version: current.number, base: baseVersion } },
    )
  }

  /**
   * This node is a member of `base` with the key it signs with: a node whose Ed25519 key a
   * change replaced signs nothing until its new key is installed (a signature by the old key
   * would be refused and alerted everywhere as a rotated-out key's).
   */
  #checkSelf(base: MembershipVersion): void {
    const { name, signingKey } = this.#opts.keys
    const member = base.members.find((m) => m.name === name)
    if (!member)
      throw new EhrlogError(
        'SIGNER_UNKNOWN',
        `${name} is not a member of ${describeVersion(base)}; only members propose and sign changes`,
        { details: { signer: name, version: base.number } },
      )
    if (member.ed25519PublicKey !== toHex(ed25519RawPublicKey(signingKey)))
      throw new EhrlogError(
        'SIGNER_UNKNOWN',
        `${name}'s Ed25519 key in ${describeVersion(base)} is not the one this node signs with: install its new key first (docs/operations.md)`,
        { details: { signer: name, version: base.number, field: 'ed25519PublicKey' } },
      )
  }

  #viewOf(entry: PooledProposal): ProposalView {
    return proposalView(this.#baseOf(entry.signed), entry, this.#opts.live)
  }

  /**
   * Merges a copy into the pool, records and emails what is new (unless `quiet`: reloaded, it
   * was at its first take), offers what a quorum signed.
   */
  async #take(signed: SignedProposal, by?: string, quiet = false): Promise<Merged> {
    const base = this.#baseOf(signed)
    const merged = this.#pool.merge(base, signed)
    const { entry } = merged
    const admin = by ? { by } : {}
    if (merged.isNew && !quiet) {
      await this.#note(
        { op: 'proposed', id: entry.id, proposal: entry.signed.proposal, ...admin },
        entry,
      )
      const { change } = entry.signed.proposal
      if ('oldKey' in change && change.oldKey === 'lost')
        await this.#alert(
          {
            op: 'alert',
            alert: 'lost-key-rotation',
            members: [change.name],
            ids: [entry.id],
            version: base.number,
            summary: `${entry.signed.proposal.proposer} proposes to replace ${change.name}'s ${change.type.slice(7)} key as LOST: the quorum alone decides, ${change.name}'s old key does not sign. Confirm with ${change.name}'s admins before signing.`,
          },
          entry.signed,
        )
    }
    for (const a of quiet ? [] : merged.added)
      await this.#note(
        {
          op: 'signed',
          id: entry.id,
          baseVersion: base.number,
          signer: a.signer,
          signature: a.signature,
          ...(a.oldKey ? { oldKey: true as const } : {}),
          ...(by && a.signer === this.#opts.keys.name ? admin : {}),
        },
        entry,
      )
    if (merged.nowAccepted && base.number === this.#current().number) await this.#offer(entry)
    const fork = this.#pool.equivocation(base)
    if (fork) await this.#forked(fork)
    if (merged.isNew || merged.added.length > 0) this.#save()
    // A change now waiting for its cut makes the next version known: proposals on it may wait.
    if (merged.nowAccepted && this.#ahead.size > 0) await this.#considerAhead()
    return merged
  }

  async #offer(entry: PooledProposal): Promise<void> {
    try {
      if (this.#opts.live.offer(entry.signed))
        this.#opts.logger.info(
          { id: entry.id, signers: entry.signers },
          'membership: a quorum signed a change; it applies at the next checkpoint cut',
        )
    } catch (err) {
      if (!(isEhrlogError(err) && err.code === 'EQUIVOCATION')) throw err
      await this.#forked(err.details as unknown as MembershipEquivocation)
    }
  }

  async #forked(fork: MembershipEquivocation): Promise<void> {
    const ids = [proposalId(fork.first), proposalId(fork.second)].sort()
    await this.#alert(
      {
        op: 'alert',
        alert: 'membership-equivocation',
        members: fork.signedBoth,
        ids,
        version: fork.baseVersion,
        summary:
          `two different changes were each signed by a quorum on membership version ${fork.baseVersion}: the membership forked; ${fork.signedBoth.join(', ') || 'nobody'} signed both`.slice(
            0,
            500,
          ),
      },
      fork,
    )
  }

  /** After LiveMembership applied a change: recorded, emailed; proposals on it are checked. */
  async #applied(change: SignedProposal): Promise<void> {
    const version = this.#current()
    this.#pool.prune(version.number)
    await this.#note(
      {
        op: 'applied',
        id: proposalId(change),
        version: version.number,
        signers: change.signatures.map((s) => s.signer),
      },
      { id: proposalId(change), signed: change, signers: change.signatures.map((s) => s.signer) },
    )
    for (const entry of this.#pool.on(version.number)) {
      if (!entry.accepted) {
        // Signed while the change before waited for its cut: check it again on this version.
        const merged = this.#pool.merge(version, entry.signed)
        if (!merged.nowAccepted) continue
      }
      await this.#offer(entry)
    }
    await this.#considerAhead()
  }

  async #alert(record: MembershipRecord & { op: 'alert' }, evidence: unknown): Promise<void> {
    const key = `${record.alert}/${record.ids.join('/')}/${record.members.join(',')}/${record.summary}`
    if (this.#alerted.has(key)) return
    this.#alerted.add(key)
    this.#opts.logger.error({ membership: record }, `membership alert: ${record.summary}`)
    await this.#write(record, evidence)
  }

  async #note(record: MembershipRecord, entry: Pick<PooledProposal, 'id' | 'signed' | 'signers'>) {
    await this.#write(record, entry.signed)
  }

  /**
   * Records in the own feed, then emails, in order but off the caller's path (a gossip
   * validator must not wait for the own-feed fence); a failure of either is logged.
   */
  #write(record: MembershipRecord, evidence: unknown): Promise<void> {
    const { logger } = this.#opts
    const notice = noticeOf(this.#opts.keys.name, record, evidence, this.#opts.live)
    const failed = (what: string) => (err: unknown) =>
      logger.error({ err: (err as Error).message, op: record.op }, `membership: ${what}`)
    this.#writes = this.#writes.then(async () => {
      if (await this.#opts.known?.(notice).catch(() => false)) return
      await this.#opts.record(record).catch(failed('record not written'))
      await this.#opts.notify(notice).catch(failed('email not queued'))
    })
    return Promise.resolve()
  }

  /** Resolves once every record and email so far is written (tests, stop). */
  flushed(): Promise<void> {
    return this.#writes
  }

  async #republish(): Promise<void> {
    if (this.#stopped) return
    const current = this.#current().number
    for (const entry of [...this.#pool.on(current), ...this.#pool.on(current + 1)])
      await this.#opts.publish(encodeGovernanceMessage(entry.signed))
  }
}
