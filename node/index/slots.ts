import type { Checkpoint } from '../core/checkpoint.ts'

/** A checkpoint's cut: origin → tree size (none: empty). */
export function cutOf(c: Checkpoint | undefined): Map<string, number> {
  return new Map((c?.feeds ?? []).map((f) => [f.origin, f.treeSize]))
}

/** The distinct patient slots among pending entries (-1: an entry without a patient). */
export function slotsOf(pending: Int32Array): Set<number> {
  const out = new Set<number>()
  for (const slot of pending) if (slot >= 0) out.add(slot)
  return out
}

/** from, from + 1, …, to − 1, without an array. */
export function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i
}
