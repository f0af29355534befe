import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import type { Entry } from '../core/entry.ts'
import { fromHex } from '../core/hex.ts'
import type { MembershipVersion, SignedProposal } from '../core/trust/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import type { HeadKeys } from '../store/index.ts'
import { MEMBERSHIP_DIR } from './live-membership.ts'
import {
  isMarkedRotation,
  markerFits,
  markerOfEntry,
  markersIn,
  type RotationMarker,
} from './rotation-marker.ts'

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
  readonly history: {
    readonly versions: readonly MembershipVersion[]
    /** applied[v - 1] made version v: tells a rotation with its old key held from a lost one. */
    readonly applied: readonly SignedProposal[]
  }
}

/** What findMarkers reads of a store: the feeds whose rotation still waits for its marker. */
export interface MarkerSource {
  size(origin: string): number
  entries(origin: string, fromSeq?: number, toSeq?: number): AsyncIterable<{ entry: Entry }>
}

/**
 * Which Ed25519 key signs an origin's tree head of a given size, across membership versions
 * (docs/architecture.md, "A network that can change", "Keys by tree size"). A key rotated in
 * version v with its old key held signs the origin's heads up to the seq of the origin's own
 * marker entry for v (`key-rotated`, rotation-marker.ts: the last entry the old key signs), the
 * new key the heads after it; until this node has seen that marker, only the old key is in
 * force (the rotating node has not switched yet). A key declared lost takes its cut from the
 * origin's size in the first checkpoint cosigned under v or later. A member removed in
 * version v is frozen at its size in the latest checkpoint this node held when it applied v:
 * nothing beyond has a key. Cuts are learnt as markers are stored, checkpoints adopted and
 * changes applied, and kept in membership/cuts.json; a marker stored but not yet recorded
 * there (a crash between the two writes) is found again at start (findMarkers).
 */
export class OriginKeys {
  readonly #source: KeyHistorySource
  readonly #file: string | undefined
  /** version → origin → the size its change took effect at. */
  readonly #cuts = new Map<number, Map<string, number>>()
  readonly #eras = new Map<string, KeyEra[]>()
  #erasOf = -1
  /** Markers seen in stored entries whose version this node does not hold yet. */
  readonly #markers: RotationMarker[] = []
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

  /**
   * What a batch head of `origin` at `treeSize` from another node is checked against. With the
   * batch's `entries`: a rotation marker among them that this node has not learnt yet ends the
   * old key's era at its seq for this check (the batch is verified whole before it is stored,
   * and noteEntries then keeps the cut).
   */
  headKeys(origin: string, treeSize: number, entries?: readonly Uint8Array[]): HeadKeys {
    const eras =
      entries && this.#awaitsMarker(origin)
        ? this.#tentativeEras(origin, markersIn(entries), treeSize)
        : this.#erasFor(origin)
    return {
      key: eras.find((e) => e.after < treeSize && treeSize <= e.upTo)?.key,
      retired: eras
        .filter((e) => e.upTo < treeSize)
        .map((e) => ({
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
   * Entries of `origin` this node stored (a batch from a peer, or its own append): a rotation
   * marker among them fixes its rotation's cut (kept, and written to cuts.json).
   */
  noteEntries(origin: string, entries: readonly Uint8Array[]): void {
    for (const marker of markersIn(entries)) if (marker.origin === origin) this.noteMarker(marker)
  }

  /**
   * A marker stored in `marker.origin`'s feed: the cut of the rotation it names, if that
   * version rotated the origin's key to the marker's key with the old key held (else ignored);
   * kept until this node holds the version when it does not yet. The first marker wins.
   */
  noteMarker(marker: RotationMarker): void {
    const versions = this.#versions()
    if (marker.version >= versions.length) {
      if (!this.#markers.some((m) => m.origin === marker.origin && m.version === marker.version))
        this.#markers.push(marker)
      return
    }
    if (!markerFits(marker, versions, this.#applied())) return
    if (this.#cuts.get(marker.version)?.has(marker.origin)) return
    this.#set(marker.version, marker.origin, marker.seq)
    this.#persist()
  }

  /** Origins with a rotation whose marker this node has not seen (their old key still signs). */
  awaitingMarkers(): string[] {
    const versions = this.#versions()
    const origins = new Set(versions.at(-1)?.members.map((m) => m.name) ?? [])
    return [...origins].filter((o) => this.#awaitsMarker(o))
  }

  /**
   * Reads the feeds whose rotation waits for its marker, from their start, for a marker this
   * store already holds (stored, but cuts.json not written before a crash; or a marker stored
   * before its version was applied here). Costs one read of those feeds, only while a cut is
   * pending.
   */
  async findMarkers(store: MarkerSource): Promise<void> {
    for (const origin of this.awaitingMarkers()) {
      if (store.size(origin) === 0) continue
      for await (const { entry } of store.entries(origin, 1, store.size(origin))) {
        const marker = markerOfEntry(entry)
        if (marker) this.noteMarker(marker)
      }
    }
  }

  /**
   * A checkpoint was adopted: a key declared lost in its version or an earlier one whose cut
   * is not known yet takes its cut from it (the first one cosigned at or after the change).
   * A rotation with the old key held takes its cut from the origin's marker instead.
   */
  noteCheckpoint(cosigned: CosignedCheckpoint): void {
    const { version } = cosigned.checkpoint.membership
    const versions = this.#versions()
    let changed = false
    for (let v = 1; v <= version && v < versions.length; v++) {
      for (const origin of rotatedIn(versions, v)) {
        if (isMarkedRotation(this.#applied(), v, origin)) continue
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

  #applied(): readonly SignedProposal[] {
    return this.#source.history.applied
  }

  /** Whether `origin`'s latest key came by a held rotation whose marker is not seen yet. */
  #awaitsMarker(origin: string): boolean {
    const last = this.#erasFor(origin).at(-1)
    return (
      last !== undefined &&
      last.version > 0 &&
      !Number.isFinite(last.after) &&
      isMarkedRotation(this.#applied(), last.version, origin)
    )
  }

  /** `origin`'s eras were `markers` (from a batch ending at `treeSize`) its cuts. */
  #tentativeEras(origin: string, markers: RotationMarker[], treeSize: number): KeyEra[] {
    const versions = this.#versions()
    const extra = new Map<number, number>()
    for (const m of markers) {
      if (m.origin !== origin || m.seq > treeSize || !markerFits(m, versions, this.#applied()))
        continue
      if (!this.#cuts.get(m.version)?.has(origin) && !extra.has(m.version))
        extra.set(m.version, m.seq)
    }
    return extra.size === 0 ? this.#erasFor(origin) : this.#computeEras(origin, extra)
  }

  #erasFor(origin: string): KeyEra[] {
    const versions = this.#versions()
    if (this.#erasOf !== versions.length) {
      this.#eras.clear()
      this.#erasOf = versions.length
      this.#adoptMarkers()
    }
    let eras = this.#eras.get(origin)
    if (eras) return eras
    eras = this.#computeEras(origin)
    this.#eras.set(origin, eras)
    return eras
  }

  /** Markers seen before their version was held here: those whose version is now held. */
  #adoptMarkers(): void {
    const held = this.#versions().length
    const ready = this.#markers.filter((m) => m.version < held)
    if (ready.length === 0) return
    this.#markers.splice(0, this.#markers.length, ...this.#markers.filter((m) => m.version >= held))
    for (const m of ready) this.noteMarker(m)
  }

  /** `origin`'s eras from the versions and the cuts known (and `extra` cuts by version). */
  #computeEras(origin: string, extra?: ReadonlyMap<number, number>): KeyEra[] {
    const versions = this.#versions()
    const eras: KeyEra[] = []
    let previous: string | undefined
    let frozenAt = 0
    versions.forEach((version, v) => {
      const keyHex = version.members.find((m) => m.name === origin)?.ed25519PublicKey
      const last = eras.at(-1)
      const cut = this.#cuts.get(v)?.get(origin) ?? extra?.get(v)
      if (keyHex !== undefined && previous === undefined) {
        eras.push(era(keyHex, v, frozenAt, Infinity)) // genesis, added, or added again
      } else if (keyHex !== undefined && keyHex !== previous && last) {
        // Rotated: until the cut is known, only the old key is in force.
        last.upTo = cut ?? Infinity
        last.retiredBy = v
        eras.push(era(keyHex, v, cut ?? Infinity, Infinity))
      } else if (keyHex === undefined && previous !== undefined && last) {
        last.upTo = cut ?? Infinity // removed: frozen at its last cosigned size
        last.retiredBy = v
        frozenAt = last.upTo
      }
      previous = keyHex
    })
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
