import type { Entry } from '../core/entry.ts'
import type { MembershipVersion, SignedProposal } from '../core/trust/index.ts'
import type { MembershipRecord } from '../core/trust/membership-record.ts'

/*
 * The marker of an origin's own Ed25519 rotation (docs/format.md, "Entry kinds", `key-rotated`;
 * docs/protocol.md, "Key rotation: the marker"): a `membership` entry of the rotating origin's
 * own feed, the last one its old key signs. Its seq is the cut of that rotation for every
 * member and for an offline verifier: heads up to it under the old key, after it under the new.
 */

export type RotationMarkerBody = Extract<MembershipRecord, { op: 'key-rotated' }>

/** A marker found in a feed: where, and what it claims. */
export interface RotationMarker {
  origin: string
  seq: number
  version: number
  /** The hash of `version` (hex). */
  id: string
  /** The new Ed25519 public key (hex). */
  key: string
}

/** The marker body for version `version`, which rotated this node's key to `keyHex`. */
export function rotationMarkerBody(version: MembershipVersion, keyHex: string): RotationMarkerBody {
  return { op: 'key-rotated', id: version.hash, version: version.number, ed25519PublicKey: keyHex }
}

/** The marker `entry` is, or undefined (the entry's body was checked by the store). */
export function markerOfEntry(entry: Entry): RotationMarker | undefined {
  if (entry.kind !== 'membership') return undefined
  const body = entry.body as Partial<RotationMarkerBody>
  if (body?.op !== 'key-rotated') return undefined
  if (typeof body.version !== 'number' || typeof body.id !== 'string') return undefined
  if (typeof body.ed25519PublicKey !== 'string') return undefined
  return {
    origin: entry.origin,
    seq: entry.seq,
    version: body.version,
    id: body.id,
    key: body.ed25519PublicKey,
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const NEEDLE = Buffer.from('"key-rotated"')

/**
 * The markers among entry bytes as a batch carries them (clear JSON between members): a byte
 * search first, so a batch without one costs no parse. Unreadable entries are skipped here:
 * the store refuses them on its own.
 */
export function markersIn(entries: readonly Uint8Array[]): RotationMarker[] {
  const found: RotationMarker[] = []
  for (const bytes of entries) {
    if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(NEEDLE) < 0) continue
    try {
      const marker = markerOfEntry(JSON.parse(utf8.decode(bytes)) as Entry)
      if (marker && Number.isSafeInteger(marker.seq)) found.push(marker)
    } catch {
      // not JSON: the store's own checks refuse the batch
    }
  }
  return found
}

/**
 * Whether version `v` (made by `applied[v - 1]`) rotated `origin`'s Ed25519 key with its old
 * key held: then the rotation's cut is the marker's seq. A "lost" rotation's cut is the
 * origin's size in the first checkpoint cosigned under it (its node holds no old key to sign a
 * marker with).
 */
export function isMarkedRotation(
  applied: readonly SignedProposal[],
  v: number,
  origin: string,
): boolean {
  const change = applied[v - 1]?.proposal.change
  return change?.type === 'rotate-ed25519' && change.name === origin && change.oldKey === 'held'
}

/** Whether `marker` is the one version `v` calls for (its hash and the key it rotated to). */
export function markerFits(
  marker: RotationMarker,
  versions: readonly MembershipVersion[],
  applied: readonly SignedProposal[],
): boolean {
  const version = versions[marker.version]
  if (!version || version.hash !== marker.id) return false
  if (!isMarkedRotation(applied, marker.version, marker.origin)) return false
  const listed = version.members.find((m) => m.name === marker.origin)?.ed25519PublicKey
  return listed === marker.key
}
