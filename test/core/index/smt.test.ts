import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../../node/core/errors.ts'
import { toHex } from '../../../node/core/hex.ts'
import {
  decodeSmtProof,
  EMPTY_HASH,
  encodeSmtProof,
  SparseMerkleTree,
  verifySmtAbsence,
  verifySmtMembership,
} from '../../../node/core/index/index.ts'
import { ReferenceTree } from './smt-reference.ts'

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
/** Keys that often share long prefixes, so deep paths and bucket splits get exercised. */
const key = fc.oneof(
  bytes32,
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 }), bytes32)
    .map(([b, n]) => {
      // Shares 30 bytes with its siblings: paths ~240 levels deep.
      const k = new Uint8Array(32)
      k[0] = 0xa5
      k[1] = n
      k[31] = b
      return k
    }),
)
const updates = fc.array(fc.tuple(key, bytes32), { maxLength: 120 })

function invalidProof(fn: () => void): boolean {
  try {
    fn()
    return false
  } catch (err) {
    return isEhrlogError(err, 'INVALID_PROOF')
  }
}

function build(list: [Uint8Array, Uint8Array][], rootEvery = 0): SparseMerkleTree {
  const tree = new SparseMerkleTree()
  list.forEach(([k, v], i) => {
    tree.set(k, v)
    if (rootEvery > 0 && i % rootEvery === 0) tree.root()
  })
  return tree
}

describe('SparseMerkleTree against the reference', () => {
  it('the empty tree has the empty root', () => {
    expect(toHex(new SparseMerkleTree().root())).toBe(toHex(EMPTY_HASH))
  })

  it('any set of updates gives the reference root, however roots are interleaved', () => {
    fc.assert(
      fc.property(updates, fc.integer({ min: 0, max: 7 }), (list, every) => {
        const reference = new ReferenceTree()
        for (const [k, v] of list) reference.set(k, v)
        const tree = build(list, every)
        expect(toHex(tree.root())).toBe(toHex(reference.root()))
        expect(tree.size).toBe(reference.leaves.size)
      }),
      { numRuns: 200 },
    )
  })

  it('a new key set twice before a root keeps its later value (get and root agree)', () => {
    const k = new Uint8Array(32).fill(7)
    const tree = new SparseMerkleTree()
    tree.set(new Uint8Array(32).fill(1), new Uint8Array(32).fill(1))
    tree.root()
    tree.set(k, new Uint8Array(32).fill(2))
    tree.set(k, new Uint8Array(32).fill(3))
    expect(toHex(tree.get(k)!)).toBe(toHex(new Uint8Array(32).fill(3)))
    const reference = new ReferenceTree()
    reference.set(new Uint8Array(32).fill(1), new Uint8Array(32).fill(1))
    reference.set(k, new Uint8Array(32).fill(3))
    expect(toHex(tree.root())).toBe(toHex(reference.root()))
    expect(tree.size).toBe(2)
  })

  it('grows its heap past thousands of leaves and keeps the reference root', () => {
    const list: [Uint8Array, Uint8Array][] = fc.sample(fc.tuple(bytes32, bytes32), {
      numRuns: 3000,
      seed: 15,
    })
    const reference = new ReferenceTree()
    for (const [k, v] of list) reference.set(k, v)
    const tree = build(list, 997)
    expect(toHex(tree.root())).toBe(toHex(reference.root()))
    for (const [k, v] of list.slice(0, 50)) {
      verifySmtMembership(tree.root(), k, v, decodeSmtProof(encodeSmtProof(tree.prove(k))))
    }
  })

  it('every membership proof verifies, also after encoding; a wrong value or key fails', () => {
    fc.assert(
      fc.property(
        updates.filter((l) => l.length > 0),
        bytes32,
        (list, wrong) => {
          const tree = build(list)
          const root = tree.root()
          const last = new Map(list.map(([k, v]) => [toHex(k), v]))
          for (const [k] of list) {
            const v = last.get(toHex(k))!
            const proof = decodeSmtProof(encodeSmtProof(tree.prove(k)))
            expect(proof.terminal.kind).toBe('key')
            verifySmtMembership(root, k, v, proof)
            if (toHex(wrong) !== toHex(v)) {
              expect(invalidProof(() => verifySmtMembership(root, k, wrong, proof))).toBe(true)
            }
            if (!last.has(toHex(wrong))) {
              expect(invalidProof(() => verifySmtMembership(root, wrong, v, proof))).toBe(true)
            }
            expect(invalidProof(() => verifySmtAbsence(root, k, proof))).toBe(true)
          }
        },
      ),
      { numRuns: 100 },
    )
  })

  it('non-membership proofs verify exactly for absent keys', () => {
    fc.assert(
      fc.property(updates, fc.array(key, { maxLength: 10 }), (list, probes) => {
        const tree = build(list)
        const root = tree.root()
        const present = new Set(list.map(([k]) => toHex(k)))
        for (const k of probes) {
          const proof = decodeSmtProof(encodeSmtProof(tree.prove(k)))
          if (present.has(toHex(k))) {
            expect(proof.terminal.kind).toBe('key')
            expect(invalidProof(() => verifySmtAbsence(root, k, proof))).toBe(true)
          } else {
            expect(proof.terminal.kind).not.toBe('key')
            verifySmtAbsence(root, k, proof)
          }
        }
        // A present key's proof, relabelled as absence, never passes.
        for (const [k] of list.slice(0, 5)) {
          const p = tree.prove(k)
          const forged = { siblings: p.siblings, terminal: { kind: 'empty' as const } }
          expect(invalidProof(() => verifySmtAbsence(root, k, forged))).toBe(true)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('an absence proof for one key does not prove another absent key', () => {
    fc.assert(
      fc.property(updates, bytes32, bytes32, (list, a, b) => {
        fc.pre(toHex(a) !== toHex(b))
        const tree = build(list)
        const root = tree.root()
        const proofA = tree.prove(a)
        const proofB = tree.prove(b)
        if (proofA.terminal.kind === 'key' || proofB.terminal.kind === 'key') return
        // Only when both keys' paths coincide can one proof serve both; otherwise it fails.
        const sameProof = toHex(encodeSmtProof(proofA)) === toHex(encodeSmtProof(proofB))
        let ok = true
        try {
          verifySmtAbsence(root, b, proofA)
        } catch {
          ok = false
        }
        if (!sameProof) expect(ok).toBe(false)
      }),
      { numRuns: 150 },
    )
  })
})

describe('SMT proof bytes', () => {
  it('are refused when cut, padded or non-canonical', () => {
    const tree = build(fc.sample(fc.tuple(bytes32, bytes32), { numRuns: 40, seed: 3 }))
    const k = new Uint8Array(32).fill(7)
    const bytes = encodeSmtProof(tree.prove(k))
    const refused = (b: Uint8Array) => {
      try {
        decodeSmtProof(b)
        return false
      } catch (err) {
        return isEhrlogError(err, 'MESSAGE_INVALID')
      }
    }
    expect(refused(bytes.subarray(0, bytes.length - 1))).toBe(true)
    expect(refused(new Uint8Array([...bytes, 0]))).toBe(true)
    expect(refused(new Uint8Array([1, 1, 0]))).toBe(true)
    const terminalAt = bytes.length - (tree.prove(k).terminal.kind === 'other' ? 65 : 1)
    const bad = bytes.slice()
    bad[terminalAt] = 9
    expect(refused(bad)).toBe(true)
    expect(refused(new Uint8Array([0, 1, 0x7f, 0]))).toBe(true)
  })
})

describe('SMT proofs in non-canonical form', () => {
  it('are refused: a path that should have ended higher, or an "other" leaf off the path', () => {
    const tree = build(fc.sample(fc.tuple(bytes32, bytes32), { numRuns: 64, seed: 9 }))
    const root = tree.root()
    const absent = new Uint8Array(32).fill(0x5a)
    const proof = tree.prove(absent)
    verifySmtAbsence(root, absent, proof)
    // One level deeper with an empty sibling: the same subtree, described non-canonically.
    const deeper = { siblings: [...proof.siblings, EMPTY_HASH], terminal: proof.terminal }
    expect(invalidProof(() => verifySmtAbsence(root, absent, deeper))).toBe(true)
    if (proof.terminal.kind === 'other') {
      const off = proof.terminal.key.slice()
      off[0]! ^= 0x80
      const moved = { ...proof, terminal: { ...proof.terminal, key: off } }
      expect(invalidProof(() => verifySmtAbsence(root, absent, moved))).toBe(true)
    }
  })
})
