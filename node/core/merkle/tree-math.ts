import { EhrlogError } from '../errors.ts'

/*
 * Integer helpers for tree sizes and leaf indexes. These use arithmetic, not JS bit
 * operators: `>>` and `&` truncate to 32 bits, so a feed past 2^31 leaves would silently
 * wrap. Every size and index is a safe integer (< 2^53).
 */

const TWO_POW_32 = 2 ** 32

export function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

/** Throws ARGUMENT_INVALID unless `value` is a non-negative safe integer. */
export function requireCount(name: string, value: number): void {
  if (!isCount(value)) {
    throw new EhrlogError('ARGUMENT_INVALID', `${name} is ${value}, want a non-negative integer`, {
      details: { field: name, value },
    })
  }
}

export function isOdd(n: number): boolean {
  return n % 2 === 1
}

/** n >> 1 for any safe integer. */
export function half(n: number): number {
  return Math.floor(n / 2)
}

/** Number of bits needed to write n (0 for 0). */
export function bitLength(n: number): number {
  return n < TWO_POW_32 ? 32 - Math.clz32(n) : 32 + bitLength(Math.floor(n / TWO_POW_32))
}

export function popCount(n: number): number {
  let ones = 0
  for (let rest = n; rest > 0; rest = half(rest)) ones += rest % 2
  return ones
}

/** Precondition: n > 0. */
export function trailingZeros(n: number): number {
  let zeros = 0
  for (let rest = n; rest % 2 === 0; rest /= 2) zeros++
  return zeros
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** (bitLength(n) - 1) === n
}

/**
 * How many levels up `a` and `b` meet when both are halved together: bitLength(a XOR b),
 * the level of the lowest common ancestor of leaves a and b.
 */
export function levelsToCommonAncestor(a: number, b: number): number {
  let levels = 0
  for (let x = a, y = b; x !== y; x = half(x), y = half(y)) levels++
  return levels
}
