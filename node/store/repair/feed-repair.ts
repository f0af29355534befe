import { verifyEntryBody } from '../../core/body.ts'
import { decodeEntry, entryId } from '../../core/entry.ts'
import { EhrlogError } from '../../core/errors.ts'
import { bytesEqual } from '../../core/hex.ts'
import {
  completeSubtrees,
  foldSubtrees,
  HASH_SIZE,
  hashChildren,
  hashLeaf,
  verifyInclusion,
} from '../../core/merkle/index.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead } from '../../core/tree-head.ts'
import { entryKey, type FeedTag, headKey } from '../format/key-layout.ts'
import { decodeEntryRecord, encodeEntryRecord, encodeHeadRecord } from '../format/records.ts'
import type { StoreAccess } from '../store-access.ts'
import { lastHeadSizeOf, readPlain, repairCount, repairCountKey } from './raw-reads.ts'

/** An entry from a peer with its inclusion proof in the tree of `treeSize`. */
export interface ProvenEntry {
  seq: number
  bytes: Uint8Array
  treeSize: number
  proof: Uint8Array[]
}

/** What to restore in one feed; everything is checked again here before anything is written. */
export interface FeedRepair {
  origin: string
  /**
   * Roots the caller trusts, by tree size: a cosigned checkpoint's cut, or a head the origin
   * signed. Every entry must prove into one of them.
   */
  trustedRoots: ReadonlyMap<number, Uint8Array>
  entries: readonly ProvenEntry[]
  /** Heads to store: each must be signed by the origin and give the repaired tree's root. */
  heads: readonly SignedTreeHead[]
  /** Entry records reported as covered by no signed head; deleted only if that still holds. */
  uncovered: readonly number[]
}

export interface FeedRepairResult {
  /** Seqs whose records were rewritten. */
  entries: number[]
  /** Sizes of the heads written. */
  heads: number[]
  /** Seqs whose uncovered records were deleted. */
  deleted: number[]
  /** Heads not written, and why (a bad signature, a root the repaired tree does not give). */
  skippedHeads: Array<{ treeSize: number; reason: string }>
}

interface RepairedLeaf {
  leaf: Uint8Array
  /** Tree nodes of levels 1..k that this leaf completes (docs/storage.md, "Records"). */
  nodes: Uint8Array[]
}

/**
 * Restores authentic records of one feed in ONE LevelDB batch, then reloads the feed's state:
 * entries proven into a trusted root (their tree nodes recomputed from the proof), heads signed
 * by the origin that match the repaired tree, and deletion of records no head covers. Throws
 * (writing nothing) if any entry fails its proof: nothing authentic is replaced by unverified
 * data. Callers must keep other writers of this feed out meanwhile (node/integrity's gate).
 */
export async function repairFeed(
  internals: StoreAccess,
  repair: FeedRepair,
  reloadFeed: (origin: string) => Promise<void>,
): Promise<FeedRepairResult> {
  const { db, cipher } = internals
  const { origin } = repair
  const feed = internals.feeds.get(origin)
  if (!feed) throw new EhrlogError('NOT_FOUND', `this store holds no feed of ${origin}`)
  const result: FeedRepairResult = { entries: [], heads: [], deleted: [], skippedHeads: [] }
  const ops: Array<{ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer }> = []
  const repaired = new Map<number, RepairedLeaf>()
  for (const proven of repair.entries) {
    const root = repair.trustedRoots.get(proven.treeSize)
    if (!root) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `no trusted root of ${origin} at size ${proven.treeSize}`,
      )
    }
    const leaf = verifyProvenEntry(origin, proven, root)
    const nodes = completedNodes(leaf, proven.seq, proven.proof)
    repaired.set(proven.seq, { leaf, nodes })
    const key = entryKey(feed.tag, proven.seq)
    const plain = await readPlain(internals, key)
    if (plain && sameRecord(plain, nodes, proven.bytes)) continue
    ops.push({ type: 'put', key, value: cipher.seal(key, encodeEntryRecord(nodes, proven.bytes)) })
    result.entries.push(proven.seq)
  }
  for (const head of repair.heads) {
    const publicKey = internals.originKey(origin, head.treeSize)
    const reason = await headProblem(internals, feed.tag, origin, head, publicKey, repaired)
    if (reason) {
      result.skippedHeads.push({ treeSize: head.treeSize, reason })
      continue
    }
    const key = headKey(feed.tag, head.treeSize)
    const plain = await readPlain(internals, key)
    if (plain && bytesEqual(plain, encodeHeadRecord(head.root, head.signature))) continue
    ops.push({
      type: 'put',
      key,
      value: cipher.seal(key, encodeHeadRecord(head.root, head.signature)),
    })
    result.heads.push(head.treeSize)
  }
  const covered = Math.max(await lastHeadSizeOf(internals, feed.tag), ...result.heads, 0)
  for (const seq of repair.uncovered) {
    // A seq the tip has reached is being appended or accepted right now: never delete it.
    if (seq <= covered || seq <= feed.tip.builder.size || repaired.has(seq)) continue
    const key = entryKey(feed.tag, seq)
    if ((await db.get(key)) === undefined) continue
    ops.push({ type: 'del', key })
    result.deleted.push(seq)
  }
  if (ops.length > 0) {
    const key = repairCountKey(feed.tag)
    const count = await repairCount(internals, origin)
    const value = Buffer.alloc(8)
    value.writeBigUInt64BE(BigInt(count + 1))
    ops.push({ type: 'put', key, value: cipher.seal(key, value) })
    await db.batch(ops, { sync: true })
  }
  if (ops.length > 0 || feed.damage) await reloadFeed(origin)
  return result
}

/**
 * The nodes leaf seq completes, from its hash and its inclusion proof: leaf index seq − 1 ends
 * in k one bits (k = trailing zeros of seq), so the first k proof hashes are the complete left
 * siblings on its path (RFC 9162 §2.1.3.2 takes the `fn` odd branch k times).
 */
export function completedNodes(
  leaf: Uint8Array,
  seq: number,
  proof: readonly Uint8Array[],
): Uint8Array[] {
  const nodes: Uint8Array[] = []
  let node = leaf
  for (let rest = seq; rest % 2 === 0; rest /= 2) {
    const sibling = proof[nodes.length]
    if (!sibling)
      throw new EhrlogError('INVALID_PROOF', `proof of seq ${seq} is too short for its tree nodes`)
    node = hashChildren(sibling, node)
    nodes.push(node)
  }
  return nodes
}

/**
 * Checks an entry from a peer: canonical bytes of `origin`'s entry at `proven.seq`, a valid
 * body, and included at leaf seq − 1 of the tree of `proven.treeSize` whose root is `root`.
 * Returns its leaf hash; throws ENTRY_INVALID, EVENT_INVALID, SEQ_MISMATCH or INVALID_PROOF.
 */
export function verifyProvenEntry(
  origin: string,
  proven: ProvenEntry,
  root: Uint8Array,
): Uint8Array {
  const { entry, hash } = decodeEntry(proven.bytes)
  if (entry.origin !== origin || entry.seq !== proven.seq) {
    throw new EhrlogError(
      'SEQ_MISMATCH',
      `entry ${entryId(entry.origin, entry.seq)} offered for ${entryId(origin, proven.seq)}`,
      { details: { origin, seq: proven.seq } },
    )
  }
  verifyEntryBody(entry.kind, entry.body, origin)
  verifyInclusion(hash, proven.seq - 1, proven.treeSize, proven.proof, root)
  return hash
}

/** Why `head` must not be stored, or undefined when it may. */
async function headProblem(
  internals: StoreAccess,
  tag: FeedTag,
  origin: string,
  head: SignedTreeHead,
  publicKey: Uint8Array | undefined,
  repaired: ReadonlyMap<number, RepairedLeaf>,
): Promise<string | undefined> {
  if (head.origin !== origin) return `head is of ${head.origin}`
  if (!publicKey || !isTreeHeadSignatureValid(head, publicKey)) return 'not signed by the origin'
  try {
    const root = await repairedRoot(internals, tag, head.treeSize, repaired)
    return bytesEqual(root, head.root) ? undefined : 'the repaired entries give another root'
  } catch (err) {
    return `the repaired tree cannot be read: ${(err as Error).message}`
  }
}

/** Root at `treeSize` of the tree as it will be: repaired records over the ones on disk. */
async function repairedRoot(
  internals: StoreAccess,
  tag: FeedTag,
  treeSize: number,
  repaired: ReadonlyMap<number, RepairedLeaf>,
): Promise<Uint8Array> {
  const ids = completeSubtrees(0, treeSize)
  const seqOf = (id: { level: number; index: number }) => (id.index + 1) * 2 ** id.level
  const fromDisk = [...new Set(ids.map(seqOf).filter((seq) => !repaired.has(seq)))]
  const records = new Map<number, RepairedLeaf>()
  const values = await internals.db.getMany(fromDisk.map((seq) => entryKey(tag, seq)))
  fromDisk.forEach((seq, i) => {
    const value = values[i]
    const plain = value && internals.cipher.open(entryKey(tag, seq), value)
    if (!plain) throw new EhrlogError('STORE_CORRUPT', `record ${seq} is missing or modified`)
    const record = decodeEntryRecord(plain)
    records.set(seq, { leaf: hashLeaf(record.entryBytes), nodes: record.nodes })
  })
  return foldSubtrees(
    ids.map((id) => {
      const record = repaired.get(seqOf(id)) ?? records.get(seqOf(id))!
      const hash = id.level === 0 ? record.leaf : record.nodes[id.level - 1]
      if (!hash)
        throw new EhrlogError('STORE_CORRUPT', `record ${seqOf(id)} lacks level ${id.level}`)
      return hash
    }),
  )
}

function sameRecord(plain: Buffer, nodes: readonly Uint8Array[], entryBytes: Uint8Array): boolean {
  if (
    plain[0] !== nodes.length ||
    plain.length !== 1 + nodes.length * HASH_SIZE + entryBytes.byteLength
  )
    return false
  try {
    const record = decodeEntryRecord(plain)
    return (
      bytesEqual(record.entryBytes, entryBytes) &&
      record.nodes.every((node, i) => bytesEqual(node, nodes[i]!))
    )
  } catch {
    return false
  }
}
