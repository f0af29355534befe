import { bytesEqual } from '../core/hex.ts'
import { hashLeaf, verifyConsistency, verifyInclusion } from '../core/merkle/index.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead } from '../core/tree-head.ts'
import type { FeedBatch, ScrubView } from '../store/index.ts'
import type { EquivocationEvidence } from './evidence.ts'

/**
 * Turns a batch the store refused with EQUIVOCATION (a validly signed head whose root differs
 * from this replica's at that size) into evidence anyone can check: preferably the first seq
 * where the batch's entry differs from ours, both entries proven into heads the origin signed;
 * else the two heads and a consistency proof. Undefined when no such evidence can be built
 * from what this replica holds: then the difference may be this replica's own damage, for
 * the scrub to name, and nobody is accused.
 */
export async function evidenceFromConflict(
  store: ScrubView,
  batch: FeedBatch,
  originKey: Uint8Array,
): Promise<EquivocationEvidence | undefined> {
  const { origin, head } = batch
  if (!isTreeHeadSignatureValid(head, originKey)) return undefined
  const firstSeq = head.treeSize - batch.entries.length + 1
  try {
    for (let seq = firstSeq; seq <= head.treeSize; seq++) {
      const theirs = batch.entries[seq - firstSeq]!
      const ours = await store.getEntry(origin, seq)
      if (!ours || bytesEqual(ours.bytes, theirs)) continue
      const forked = await store.proveInForkedTree(
        origin,
        firstSeq - 1,
        batch.entries.map(hashLeaf),
        seq - 1,
        head.treeSize,
      )
      // Their batch differs before it starts too: the entries alone do not show where.
      if (!bytesEqual(forked.root, head.root)) break
      const ourHead = await signedHeadFrom(store, origin, seq, originKey)
      if (!ourHead) return undefined
      const proof = await store.inclusionProof(origin, seq, ourHead.treeSize)
      verifyInclusion(ours.hash, seq - 1, ourHead.treeSize, proof, ourHead.root)
      return {
        type: 'entries',
        origin,
        seq,
        a: { bytes: ours.bytes, leafHash: ours.hash, proof, head: ourHead },
        b: { bytes: theirs, leafHash: hashLeaf(theirs), proof: forked.proof, head },
      }
    }
    const ourHead = await signedHeadFrom(store, origin, head.treeSize, originKey)
    if (!ourHead) return undefined
    const bRoot = await store.rootAt(origin, head.treeSize)
    const consistency = await store.consistencyProof(origin, head.treeSize, ourHead.treeSize)
    verifyConsistency(head.treeSize, ourHead.treeSize, bRoot, ourHead.root, consistency)
    if (bytesEqual(bRoot, head.root)) return undefined
    return {
      type: 'heads',
      origin,
      treeSize: head.treeSize,
      a: head,
      b: ourHead,
      bRoot,
      consistency,
    }
  } catch {
    // Our side does not verify (an unreadable record, a stored node that is off): local damage.
    return undefined
  }
}

/** The first head of ours at or above `fromSize` that the origin really signed. */
async function signedHeadFrom(
  store: ScrubView,
  origin: string,
  fromSize: number,
  originKey: Uint8Array,
): Promise<SignedTreeHead | undefined> {
  for await (const head of store.heads(origin, fromSize)) {
    if (isTreeHeadSignatureValid(head, originKey)) return head
  }
  return undefined
}
