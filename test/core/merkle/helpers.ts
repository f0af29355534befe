import fc from 'fast-check'
import { expect } from 'vitest'
import { EhrlogError, type ErrorCode } from '../../../node/core/errors.ts'
import { toHex } from '../../../node/core/hex.ts'

/** Runs `action` and asserts it throws an EhrlogError with `code`; returns the error. */
export function expectCode(action: () => unknown, code: ErrorCode, label = ''): EhrlogError {
  let caught: unknown
  try {
    action()
  } catch (err) {
    caught = err
  }
  expect(caught, `${label}: expected ${code}, got ${String(caught)}`).toBeInstanceOf(EhrlogError)
  expect((caught as EhrlogError).code, label).toBe(code)
  return caught as EhrlogError
}

export function hexes(hashes: readonly Uint8Array[]): string[] {
  return hashes.map(toHex)
}

/** A copy of `proof` with bit `bit` (0..255) of hash `at` flipped. */
export function flipBit(proof: readonly Uint8Array[], at: number, bit: number): Uint8Array[] {
  return proof.map((hash, i) => {
    if (i !== at) return hash
    const copy = hash.slice()
    copy[bit >> 3]! ^= 1 << (bit & 7)
    return copy
  })
}

/** A tree size in 1..300 and a leaf index in it. */
export const sizeAndIndex = fc
  .integer({ min: 1, max: 300 })
  .chain((treeSize) => fc.record({ treeSize: fc.constant(treeSize), index: fc.nat(treeSize - 1) }))

/** Two tree sizes 0 <= oldSize <= newSize <= 300. */
export const twoSizes = fc
  .integer({ min: 0, max: 300 })
  .chain((newSize) => fc.record({ oldSize: fc.nat(newSize), newSize: fc.constant(newSize) }))
