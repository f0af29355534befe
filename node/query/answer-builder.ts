import { type CosignedCheckpoint, cosignedToJson, feedCutOf } from '../core/checkpoint.ts'
import { entryId } from '../core/entry.ts'
import { toHex } from '../core/hex.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import {
  type AnswerEntryJson,
  type AnswerHeadJson,
  encodeCursor,
  type QueryAnswerJson,
  type QueryFilter,
} from '../core/trust/index.ts'
import type { LogStore, ProofRequest } from '../store/index.ts'

import type { Selection } from './select.ts'

/** What proving reads of the replica: its heads and sizes, and proofs (LogStore's). */
export type ProofStore = Pick<LogStore, 'latestHead' | 'size' | 'sizes'> &
  Pick<LogStore, 'inclusionProofs' | 'consistencyProof'>

/**
 * Proves each selected entry: against the checkpoint's cut when the cut covers it (and this
 * replica holds the cut), else against its origin's latest signed head, which comes with a
 * consistency proof from the cut so the client can see that it extends cosigned history.
 * Heads are read after selection, so they cover every selected entry. The proofs of one
 * origin are built together, so tree nodes they share are read once.
 */
export async function buildAnswer(
  store: ProofStore,
  input: {
    node: string
    filter: QueryFilter
    selection: Selection
    checkpoint: CosignedCheckpoint | undefined
  },
): Promise<QueryAnswerJson> {
  const { checkpoint, selection } = input
  const heads = new Map<string, { head: SignedTreeHead; json: Promise<AnswerHeadJson> }>()
  const headOf = (origin: string) => {
    let known = heads.get(origin)
    if (!known) {
      const head = store.latestHead(origin)!
      const cut = checkpoint && feedCutOf(checkpoint.checkpoint, origin)
      const json = (async (): Promise<AnswerHeadJson> => ({
        origin,
        treeSize: head.treeSize,
        root: toHex(head.root),
        signature: toHex(head.signature),
        consistency:
          cut && cut.treeSize <= head.treeSize
            ? (await store.consistencyProof(origin, cut.treeSize, head.treeSize)).map(toHex)
            : [],
      }))()
      known = { head, json }
      heads.set(origin, known)
    }
    return known
  }
  const byOrigin = new Map<string, ProofRequest[]>()
  const requests = selection.entries.map((e) => {
    const { origin, seq } = e.entry
    const cut = checkpoint && feedCutOf(checkpoint.checkpoint, origin)
    const treeSize =
      cut && seq <= cut.treeSize && cut.treeSize <= store.size(origin)
        ? cut.treeSize
        : headOf(origin).head.treeSize
    const request = { seq, treeSize }
    const list = byOrigin.get(origin) ?? []
    byOrigin.set(origin, list)
    list.push(request)
    return request
  })
  const proofs = new Map<ProofRequest, Uint8Array[]>()
  await Promise.all(
    [...byOrigin].map(async ([origin, list]) => {
      const built = await store.inclusionProofs(origin, list)
      for (const [i, request] of list.entries()) proofs.set(request, built[i]!)
    }),
  )
  // The proofs of one origin share their upper nodes as the same arrays (foldInclusionProofs):
  // each distinct hash is written as hex once per answer, not once per proof it is in.
  const hexOf = new Map<Uint8Array, string>()
  const hex = (hash: Uint8Array) => {
    let text = hexOf.get(hash)
    if (text === undefined) {
      text = toHex(hash)
      hexOf.set(hash, text)
    }
    return text
  }
  const entries = selection.entries.map(
    (e, i): AnswerEntryJson => ({
      bytes: Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength).toString('base64'),
      treeSize: requests[i]!.treeSize,
      proof: proofs.get(requests[i]!)!.map(hex),
    }),
  )
  const through = selection.through
  return {
    v: 1,
    node: input.node,
    filter: input.filter,
    entries,
    heads: await Promise.all([...heads.values()].map((h) => h.json)),
    checkpoint: checkpoint ? cosignedToJson(checkpoint) : null,
    held: Object.fromEntries(store.sizes()),
    ...(through
      ? { through: entryId(through.origin, through.seq), next: encodeCursor(through) }
      : {}),
  }
}
