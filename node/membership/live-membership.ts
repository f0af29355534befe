import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import {
  applyProposal,
  checkEquivocation,
  type Membership,
  MembershipHistory,
  type MembershipOptions,
  type NetworkKeys,
  parseSignedProposal,
  proposalMessage,
  type SignedProposal,
  type VersionRef,
} from '../core/trust/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import type { MembershipView } from './membership-view.ts'

/** The folder, beside network.json (the genesis), that holds the applied changes in order. */
export const MEMBERSHIP_DIR = 'membership'

/** `membership/000001.json` made version 1, and so on. */
export function changeFileName(version: number): string {
  return `${String(version).padStart(6, '0')}.json`
}

export type ChangeListener = (now: Membership, before: Membership, change: SignedProposal) => void

/**
 * The node's membership as it changes (docs/architecture.md, "A network that can change"):
 * the verified history from genesis, the change a quorum accepted that waits for the next
 * checkpoint cut, and the listeners that follow (checkpoints, the connection gater, the
 * dialer). Every applied change is written to `membership/NNNNNN.json` before anyone is told,
 * so a restart reads the same history back.
 */
export class LiveMembership implements MembershipView {
  #history: MembershipHistory
  #pending: SignedProposal | undefined
  readonly #dir: string | undefined
  readonly #listeners = new Set<ChangeListener>()

  /** `dir`: the node folder (changes are persisted there); undefined keeps them in memory. */
  constructor(history: MembershipHistory, dir?: string) {
    this.#history = history
    this.#dir = dir
  }

  /** Reads genesis (network.json's parsed value) and `dir/membership/*.json`, verifying each. */
  static async load(
    dir: string,
    networkJson: unknown,
    options: MembershipOptions = {},
  ): Promise<LiveMembership> {
    const changes = await readChanges(join(dir, MEMBERSHIP_DIR))
    return new LiveMembership(MembershipHistory.fromChain(networkJson, changes, options), dir)
  }

  get history(): MembershipHistory {
    return this.#history
  }

  get networkId(): string {
    return this.#history.networkId
  }

  /** The members of the version in force. */
  get current(): Membership {
    return this.#history.current
  }

  /** The members of version `n` (older versions verify what was signed under them). */
  at(n: number): Membership | undefined {
    return this.#history.at(n)
  }

  /** The keys a checkpoint naming `ref` is verified with (MEMBERSHIP_UNKNOWN: not held). */
  keysFor(ref: VersionRef): NetworkKeys {
    return this.#history.keysFor(ref)
  }

  /** The change a quorum accepted on the current version, applied at the next cut. */
  get pending(): SignedProposal | undefined {
    return this.#pending
  }

  /**
   * The version the pending change would make, not applied: what a checkpoint naming it is
   * verified with before the change is applied for it (applyFor).
   */
  get next(): Membership | undefined {
    return this.#pending && this.#history.extend(this.#pending).current
  }

  /**
   * Takes a quorum-signed change on the current version to apply at the next checkpoint cut.
   * Returns false when it is the one already pending (more signatures keep the first copy's
   * version: the hash does not cover them). Throws applyProposal's code when it does not apply,
   * and EQUIVOCATION (with both changes in details) when another change is already pending.
   */
  offer(value: unknown): boolean {
    const signed = parseSignedProposal(value)
    applyProposal(this.#history.versions.at(-1)!, signed)
    if (this.#pending) {
      if (sameMessage(this.#pending, signed)) return false
      checkEquivocation(this.#history.versions.at(-1)!, this.#pending, signed)
    }
    this.#pending = signed
    return true
  }

  /** At a checkpoint cut: applies the pending change, if any; true when the version moved. */
  async applyPending(): Promise<boolean> {
    const signed = this.#pending
    if (!signed) return false
    this.#pending = undefined
    await this.#apply(signed)
    return true
  }

  /**
   * A checkpoint proposal names `ref`: if that is the version the pending change makes, apply
   * it now (the proposer reached the cut first). True when `ref` is then the current version.
   */
  async applyFor(ref: VersionRef): Promise<boolean> {
    const hash = typeof ref.hash === 'string' ? ref.hash : toHex(ref.hash)
    const current = this.#history.versions.at(-1)!
    if (ref.version === current.number) return hash === current.hash
    if (ref.version !== current.number + 1 || !this.#pending) return false
    const next = applyProposal(current, this.#pending)
    if (next.hash !== hash) return false
    await this.applyPending()
    return true
  }

  /**
   * Changes fetched from a peer, from version `latest + 1` on (a node that was down, or a new
   * member): each verified against the version before and applied in order. Returns how many
   * were applied; the first refused one throws its code, with those before it kept.
   */
  async catchUp(changes: readonly unknown[]): Promise<number> {
    let applied = 0
    for (const value of changes) {
      const signed = parseSignedProposal(value)
      if (signed.proposal.baseVersion < this.#history.latest) continue
      await this.#apply(signed)
      applied++
    }
    return applied
  }

  /** Calls `listener` after each applied change; returns the unsubscribe. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async #apply(signed: SignedProposal): Promise<void> {
    const before = this.current
    const next = this.#history.extend(signed)
    if (this.#dir !== undefined) {
      const folder = join(this.#dir, MEMBERSHIP_DIR)
      await mkdir(folder, { recursive: true, mode: 0o700 })
      await writeFileAtomic(
        join(folder, changeFileName(next.latest)),
        `${JSON.stringify(signed, null, 2)}\n`,
        { mode: 0o644, noClobber: true },
      )
    }
    this.#history = next
    if (this.#pending && this.#pending.proposal.baseVersion < next.latest) this.#pending = undefined
    for (const listener of this.#listeners) listener(this.current, before, signed)
  }
}

function sameMessage(a: SignedProposal, b: SignedProposal): boolean {
  return toHex(proposalMessage(a.proposal)) === toHex(proposalMessage(b.proposal))
}

/** The applied changes in version order; a gap in the numbering is a damaged folder. */
async function readChanges(folder: string): Promise<unknown[]> {
  let names: string[]
  try {
    names = (await readdir(folder)).filter((n) => /^\d{6}\.json$/.test(n)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: unknown[] = []
  for (const [i, name] of names.entries()) {
    if (name !== changeFileName(i + 1)) {
      throw new EhrlogError(
        'CONFIG_INVALID',
        `${folder}: ${changeFileName(i + 1)} is missing (found ${name}): the applied membership changes must be numbered from 1 without gaps`,
        { details: { field: MEMBERSHIP_DIR, file: name } },
      )
    }
    const path = join(folder, name)
    try {
      out.push(JSON.parse(await readFile(path, 'utf8')))
    } catch (cause) {
      throw new EhrlogError('CONFIG_INVALID', `${path} is not JSON`, {
        details: { field: MEMBERSHIP_DIR, file: name },
        cause,
      })
    }
  }
  return out
}
