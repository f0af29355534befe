import { fromHex, toHex } from '../../../node/core/hex.ts'
import { EMPTY_HASH, keyBit, smtLeafHash, smtNodeHash } from '../../../node/core/index/layout.ts'

/**
 * The plain reference the tree is checked against: a Map and the recursive definition of the
 * canonical root (docs/format.md), recomputed from scratch every time.
 */
export class ReferenceTree {
  readonly leaves = new Map<string, Uint8Array>()

  set(key: Uint8Array, valueHash: Uint8Array): void {
    this.leaves.set(toHex(key), valueHash)
  }

  root(): Uint8Array {
    const keys = [...this.leaves.keys()].map((k) => fromHex(k)!)
    return rootOf(keys, 0, this.leaves)
  }
}

function rootOf(keys: Uint8Array[], depth: number, values: Map<string, Uint8Array>): Uint8Array {
  if (keys.length === 0) return EMPTY_HASH
  if (keys.length === 1) return smtLeafHash(keys[0]!, values.get(toHex(keys[0]!))!)
  const left = keys.filter((k) => keyBit(k, depth) === 0)
  const right = keys.filter((k) => keyBit(k, depth) === 1)
  return smtNodeHash(rootOf(left, depth + 1, values), rootOf(right, depth + 1, values))
}
