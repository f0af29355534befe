import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import { fromHex } from '../core/hex.ts'
import type { MembershipVersion } from '../core/trust/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import type { HeadKeys } from '../store/index.ts'
import { MEMBERSHIP_DIR } from './live-membership.ts'

/** membership/cuts.json: where each change took effect in the feeds it retired a key of. */
export const CUTS_FILE = 'cuts.json'

/** One Ed25519 key of an origin and the tree sizes its heads may have: after < size <= upTo. */
export interface KeyEra {
  key: Uint8Array
  keyHex: string
  /** The membership version that made it the origin's key. */
  version: number
  after: number
  /** Infinity while it is the origin's key. */
  upTo: number
  /** The version that rotated it out or removed the origin. */
  retiredBy?: number
}

/** What OriginKeys reads of the membership (a LiveMembership). */
export interface KeyHistorySource {
  readonly history: { readonly versions: readonly MembershipVersion[] }
}

/**
 * Which Ed25519 key signs an origin's tree head of a given size, across membership versions
 * (docs/architecture.md, "A network that can change"). A key rotated in version v signs heads
 * up to the origin's size in the first checkpoint cosigned under v or later (the cut), the new
 * key the heads after it; until this node has seen that cut, only the old key is in force (the
 * rotating node signs nothing meanwhile). A member removed in version v is frozen at its size
 * in the latest checkpoint this node held when it applied v: nothing beyond has a key. The cuts
 * are learnt as checkpoints are adopted and changes applied, and kept in membership/cuts.json.
 */
export class OriginKeys {
  readonly #source: KeyHistorySource
  readonly #file: string | undefined
  /** version → origin → the size its change took effect at. */
  readonly #cuts = new Map<number, Map<string, number>>()
  readonly #eras = new Map<string, KeyEra[]>()
  #erasOf = -1
  #writing: Promise<void> = Promise.resolve()
  #writeError: Error | undefined

  /** `dir`: the node folder (cuts persisted in membership/cuts.json); undefined: in memory. */
  constructor(
    source: KeyHistorySource,
    dir?: string,
    cuts?: Record<string, Record<string, number>>,
  ) {
    this.#source = source
    this.#file = dir === undefined ? undefined : join(dir, MEMBERSHIP_DIR, CUTS_FILE)
    for (const [v, byOrigin] of Object.entries(cuts ?? {}))
      this.#cuts.set(Number(v), new Map(Object.entries(byOrigin)))
  }

  static async load(source: KeyHistorySource, dir: string): Promise<OriginKeys> {
    let cuts: Record<string, Record<string, number>> | undefined
    try {
      cuts = JSON.parse(await readFile(join(dir, MEMBERSHIP_DIR, CUTS_FILE), 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    return new OriginKeys(source, dir, cuts)
  }

  /** The key a head of `origin` at `treeSize` must be signed with; undefined: none may sign it. */
  keyAt(origin: string, treeSize: number): Uint8Array | undefined {
    return this.#erasFor(origin).find((e) => e.after < treeSize && treeSize <= e.upTo)?.key
  }

  /**
   * The key a head this replica already stores was checked with: keyAt, or for a removed
   * member's head stored before its removal was applied here, its last key.
   */
  storedKeyAt(origin: string, treeSize: number): Uint8Array | undefined {
    const key = this.keyAt(origin, treeSize)
    if (key) return key
    const last = this.#erasFor(origin).at(-1)
    return last && treeSize > last.upTo && !this.#isMember(origin) ? last.key : undefined
  }

  /** What a batch head of `origin` at `treeSize` from another node is checked against. */
  headKeys(origin: string, treeSize: number): HeadKeys {
    return {
      key: this.keyAt(origin, treeSize),
      retired: this.retiredAt(origin, treeSize).map((e) => ({
        key: e.key,
        upTo: e.upTo,
        version: e.retiredBy ?? e.version,
      })),
    }
  }

  /** Keys of `origin` retired before `treeSize` (rotated out, or the origin removed). */
  retiredAt(origin: string, treeSize: number): KeyEra[] {
    return this.#erasFor(origin).filter((e) => e.upTo < treeSize)
  }

  /** Every key `origin` had, oldest first, with the sizes each may sign. */
  erasOf(origin: string): readonly KeyEra[] {
    return this.#erasFor(origin)
  }

  /**
   * A checkpoint was adopted: a key rotated in its version or an earlier one whose cut is not
   * known yet takes its cut from it (the first one cosigned at or after the change).
   */
  noteCheckpoint(cosigned: CosignedCheckpoint): void {
    const { version } = cosigned.checkpoint.membership
    const versions = this.#versions()
    let changed = false
    for (let v = 1; v <= version && v < versions.length; v++) {
      for (const origin of rotatedIn(versions, v)) {
        const cut = cosigned.checkpoint.feeds.find((f) => f.origin === origin)
        if (!cut || this.#cuts.get(v)?.has(origin)) continue
        this.#set(v, origin, cut.treeSize)
        changed = true
      }
    }
    if (changed) this.#persist()
  }

  /**
   * Version `version` was applied at this node's cut: the members it removed are frozen at
   * their size in `latest` (the last checkpoint they were cosigned in; 0 without one).
   */
  noteApplied(version: number, latest: CosignedCheckpoint | undefined): void {
    const versions = this.#versions()
    const before = versions[version - 1]
    const now = versions[version]
    if (!before || !now) return
    let changed = false
    for (const m of before.members) {
      if (now.members.some((n) => n.name === m.name) || this.#cuts.get(version)?.has(m.name))
        continue
      const cut = latest?.checkpoint.feeds.find((f) => f.origin === m.name)
      this.#set(version, m.name, cut?.treeSize ?? 0)
      changed = true
    }
    if (changed) this.#persist()
  }

  /**
   * Resolves once the cuts learnt so far are on disk; rejects with the last write's error (the
   * cuts stay in memory: a restart learns a rotation's cut again from the next checkpoint).
   */
  async flushed(): Promise<void> {
    await this.#writing
    if (this.#writeError) throw this.#writeError
  }

  #set(version: number, origin: string, size: number): void {
    let byOrigin = this.#cuts.get(version)
    if (!byOrigin) {
      byOrigin = new Map()
      this.#cuts.set(version, byOrigin)
    }
    byOrigin.set(origin, size)
    this.#eras.clear()
  }

  #persist(): void {
    const file = this.#file
    if (!file) return
    const json: Record<string, Record<string, number>> = {}
    for (const [v, byOrigin] of [...this.#cuts].sort((a, b) => a[0] - b[0]))
      json[String(v)] = Object.fromEntries(byOrigin)
    const text = `${JSON.stringify(json, null, 2)}\n`
    this.#writing = this.#writing
      .then(async () => {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 })
        await writeFileAtomic(file, text, { mode: 0o644 })
        this.#writeError = undefined
      })
      .catch((err: Error) => {
        this.#writeError = err
      })
  }

  #isMember(origin: string): boolean {
    return (
      this.#versions()
        .at(-1)
        ?.members.some((m) => m.name === origin) ?? false
    )
  }

  #versions(): readonly MembershipVersion[] {
    return this.#source.history.versions
  }

  #erasFor(origin: string): KeyEra[] {
    const versions = this.#versions()
    if (this.#erasOf !== versions.length) {
      this.#eras.clear()
      this.#erasOf = versions.length
    }
    let eras = this.#eras.get(origin)
    if (eras) return eras
    eras = []
    let previous: string | undefined
    let frozenAt = 0
    versions.forEach((version, v) => {
      const keyHex = version.members.find((m) => m.name === origin)?.ed25519PublicKey
      const last = eras!.at(-1)
      const cut = this.#cuts.get(v)?.get(origin)
      if (keyHex !== undefined && previous === undefined) {
        eras!.push(era(keyHex, v, frozenAt, Infinity)) // genesis, added, or added again
      } else if (keyHex !== undefined && keyHex !== previous && last) {
        // Rotated: until the cut is known, only the old key is in force.
        last.upTo = cut ?? Infinity
        last.retiredBy = v
        eras!.push(era(keyHex, v, cut ?? Infinity, Infinity))
      } else if (keyHex === undefined && previous !== undefined && last) {
        last.upTo = cut ?? Infinity // removed: frozen at its last cosigned size
        last.retiredBy = v
        frozenAt = last.upTo
      }
      previous = keyHex
    })
    this.#eras.set(origin, eras)
    return eras
  }
}

function era(keyHex: string, version: number, after: number, upTo: number): KeyEra {
  return { key: fromHex(keyHex, 32)!, keyHex, version, after, upTo }
}

/** The members whose Ed25519 key version `v` changed. */
function rotatedIn(versions: readonly MembershipVersion[], v: number): string[] {
  const before = versions[v - 1]
  const now = versions[v]
  if (!before || !now) return []
  return now.members
    .filter((m) => {
      const was = before.members.find((b) => b.name === m.name)
      return was !== undefined && was.ed25519PublicKey !== m.ed25519PublicKey
    })
    .map((m) => m.name)
}
