import type { FeedCut } from '../checkpoint.ts'
import { bytesEqual, fromHex } from '../hex.ts'
import { ORIGIN_PATTERN } from '../layout.ts'
import { verifyConsistency } from '../merkle/index.ts'
import { isTreeHeadSignatureValid } from '../tree-head.ts'
import type { AnswerHeadJson } from './answer.ts'
import { hashes } from './answer-fields.ts'
import type { NetworkKeys } from './network-keys.ts'
import type { Failure } from './verification.ts'

/** A head of the answer after its checks, keyed `origin:treeSize`. */
export interface CheckedHead {
  treeSize: number
  root: Uint8Array
  /** Why entries under it cannot be trusted, if so. */
  problem: string | undefined
  /** The head extends the cosigned cut (consistency proof verified). */
  extendsCut: boolean
}

/**
 * The answer's signed tree heads: each signed by its origin's Ed25519 key (of the checkpoint's
 * membership version; past the cut, or of the next version `nextKeys`), and consistent
 * with the cosigned cut when it is at or past it. A malformed head is a failure; a head
 * that fails a check is kept with its problem, which fails the entries proven under it.
 */
export function checkAnswerHeads(
  list: unknown,
  keys: NetworkKeys,
  cutOf: (origin: string) => FeedCut | undefined,
  failures: Failure[],
  nextKeys?: ReadonlyMap<string, Uint8Array>,
): Map<string, CheckedHead> {
  const out = new Map<string, CheckedHead>()
  if (!Array.isArray(list)) return out
  for (const h of list as Partial<AnswerHeadJson>[]) {
    const origin = String(h?.origin)
    const treeSize = h?.treeSize
    const root = typeof h?.root === 'string' ? fromHex(h.root, 32) : undefined
    const signature = typeof h?.signature === 'string' ? fromHex(h.signature, 64) : undefined
    const consistency = hashes(h?.consistency)
    if (
      !ORIGIN_PATTERN.test(origin) ||
      !Number.isSafeInteger(treeSize) ||
      !root ||
      !signature ||
      !consistency
    ) {
      failures.push({ entryId: `head ${origin}`, reason: 'signed head is malformed' })
      continue
    }
    const key = keys.ed25519Keys.get(origin)
    const size = treeSize as number
    const checked: CheckedHead = { treeSize: size, root, problem: undefined, extendsCut: false }
    out.set(`${origin}:${size}`, checked)
    // Past the cut, the key of the next membership version too (the verifier holds it): a
    // rotation takes effect at the next cut, before a checkpoint of that version is cosigned.
    const next = nextKeys?.get(origin)
    const cutSize = cutOf(origin)?.treeSize ?? 0
    const signedBy = (k: Uint8Array | undefined) =>
      k !== undefined && isSignedBy({ origin, treeSize: size, root, signature }, k)
    if (!signedBy(key) && !(size > cutSize && signedBy(next))) {
      checked.problem = `the head of ${origin} at tree size ${size} is not signed by ${origin}`
      continue
    }
    const cut = cutOf(origin)
    if (!cut || size < cut.treeSize) continue // no cut, or this node is behind it: signed only
    try {
      if (size === cut.treeSize && !bytesEqual(root, cut.root))
        throw new Error(`root differs from the checkpoint's at the same size ${size}`)
      verifyConsistency(cut.treeSize, size, cut.root, root, consistency)
      checked.extendsCut = true
    } catch (err) {
      checked.problem = `the head of ${origin} at ${size} does not extend the cosigned checkpoint (size ${cut.treeSize}): ${(err as Error).message}`
    }
  }
  return out
}

/** The one tree-head signature check (core/tree-head.ts); a key it cannot use is "not signed". */
function isSignedBy(head: Parameters<typeof isTreeHeadSignatureValid>[0], key: Uint8Array) {
  try {
    return isTreeHeadSignatureValid(head, key)
  } catch {
    return false
  }
}
