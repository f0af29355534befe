import { isInclusionValid } from '../core/merkle/index.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import type { RepairSource } from '../net/index.ts'
import type { ScrubView } from '../store/index.ts'

/**
 * What this node serves to peers repairing their replicas: its heads, and entries with
 * inclusion proofs. An entry is served only if it proves into this replica's own root at the
 * size asked, so this node's own damage is not handed on (the requester checks again).
 * `store`: a LogStore, or its scrubView (verified reads only).
 */
export function repairSourceOf(
  store: Pick<ScrubView, 'size' | 'heads' | 'getEntry' | 'inclusionProof' | 'rootAt'>,
): RepairSource {
  // A request proves many entries against one size: its root is read once (and only kept a
  // moment: this replica may be repaired meanwhile).
  let last: { origin: string; treeSize: number; atMs: number; root: Uint8Array } | undefined
  const rootAt = async (origin: string, treeSize: number) => {
    if (last?.origin === origin && last.treeSize === treeSize && Date.now() - last.atMs < 2000)
      return last.root
    const root = await store.rootAt(origin, treeSize)
    last = { origin, treeSize, atMs: Date.now(), root }
    return root
  }
  return {
    size: (origin) => store.size(origin),
    async headAt(origin, treeSize): Promise<SignedTreeHead | undefined> {
      for await (const head of store.heads(origin, treeSize))
        return head.treeSize === treeSize ? head : undefined
      return undefined
    },
    async entryWithProof(origin, seq, treeSize) {
      const entry = await store.getEntry(origin, seq)
      if (!entry) return undefined
      const proof = await store.inclusionProof(origin, seq, treeSize)
      const root = await rootAt(origin, treeSize)
      return isInclusionValid(entry.hash, seq - 1, treeSize, proof, root)
        ? { bytes: entry.bytes, proof }
        : undefined
    },
  }
}
