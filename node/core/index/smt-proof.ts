import { EhrlogError } from '../errors.ts'
import { bytesEqual, toHex } from '../hex.ts'
import { EMPTY_HASH, INDEX_HASH_SIZE, keyBit, smtLeafHash, smtNodeHash } from './layout.ts'

/*
 * Proofs of the sparse Merkle tree (smt.ts). The tree is canonical: an empty subtree hashes
 * to EMPTY_HASH, a subtree with one leaf to that leaf's hash (keys are in the leaf hash, so
 * its position is bound), and only a subtree with two or more leaves to a node hash. A key's
 * path therefore ends at the first subtree on it holding at most one leaf: the key's own leaf
 * (membership), nothing, or one other leaf whose key shares the path (both non-membership).
 * Every node above that end holds two or more leaves, so the verifier hashes at every level.
 */

export const SMT_KEY_SIZE = 32
const MAX_DEPTH = SMT_KEY_SIZE * 8

/** What ends a key's path. */
export type SmtTerminal =
  | { kind: 'key' }
  | { kind: 'empty' }
  | { kind: 'other'; key: Uint8Array; valueHash: Uint8Array }

export interface SmtProof {
  /** Sibling hashes from the root's children down: siblings[i] is at depth i + 1. */
  siblings: Uint8Array[]
  terminal: SmtTerminal
}

function invalid(message: string, details: Record<string, unknown>): EhrlogError {
  return new EhrlogError('INVALID_PROOF', message, {
    details: { reason: 'index-proof-invalid', ...details },
  })
}

/**
 * The root a proof gives for `key`, with `valueHash` its leaf's value for a membership proof
 * (terminal `key`) and undefined for a non-membership proof. Throws INVALID_PROOF for a
 * malformed or non-canonical proof, or one of the wrong kind.
 */
export function rootFromSmtProof(
  key: Uint8Array,
  valueHash: Uint8Array | undefined,
  proof: SmtProof,
): Uint8Array {
  const { siblings, terminal } = proof
  const evidence = () => ({ key: toHex(key), depth: siblings.length, terminal: terminal.kind })
  if (key.length !== SMT_KEY_SIZE) throw invalid(`key has ${key.length} bytes, want 32`, evidence())
  if (siblings.length > MAX_DEPTH) {
    throw invalid(`proof has ${siblings.length} siblings, at most ${MAX_DEPTH}`, evidence())
  }
  for (const s of siblings) {
    if (s.length !== INDEX_HASH_SIZE) throw invalid('a sibling is not 32 bytes', evidence())
  }
  const depth = siblings.length
  let h: Uint8Array
  if (terminal.kind === 'key') {
    if (!valueHash) throw invalid('a membership proof needs the leaf value', evidence())
    h = smtLeafHash(key, valueHash)
  } else {
    if (valueHash) throw invalid(`proof shows no leaf for the key (${terminal.kind})`, evidence())
    if (terminal.kind === 'empty') {
      h = EMPTY_HASH
    } else {
      const other = terminal.key
      if (other.length !== SMT_KEY_SIZE || terminal.valueHash.length !== INDEX_HASH_SIZE) {
        throw invalid('the other leaf is malformed', evidence())
      }
      if (bytesEqual(other, key)) throw invalid('the "other" leaf has the key itself', evidence())
      for (let i = 0; i < depth; i++) {
        if (keyBit(other, i) !== keyBit(key, i)) {
          throw invalid(`the other leaf leaves the key's path at depth ${i}`, evidence())
        }
      }
      h = smtLeafHash(other, terminal.valueHash)
    }
  }
  // Canonical form: the end's sibling is not empty (else the parent holds at most one leaf and
  // the path would have ended there); an empty end needs a sibling of two or more leaves.
  if (depth > 0 && bytesEqual(siblings[depth - 1]!, EMPTY_HASH)) {
    throw invalid('the last sibling is empty: the path should end higher', evidence())
  }
  for (let i = depth - 1; i >= 0; i--) {
    const s = siblings[i]!
    h = keyBit(key, i) === 0 ? smtNodeHash(h, s) : smtNodeHash(s, h)
  }
  return h
}

/** Checks that `key` has the leaf value `valueHash` in the tree with `root`; INVALID_PROOF if not. */
export function verifySmtMembership(
  root: Uint8Array,
  key: Uint8Array,
  valueHash: Uint8Array,
  proof: SmtProof,
): void {
  if (proof.terminal.kind !== 'key') {
    throw invalid(`proof shows no leaf for the key (${proof.terminal.kind})`, { key: toHex(key) })
  }
  requireRoot(root, rootFromSmtProof(key, valueHash, proof), key)
}

/** Checks that `key` has no leaf in the tree with `root`; INVALID_PROOF if not. */
export function verifySmtAbsence(root: Uint8Array, key: Uint8Array, proof: SmtProof): void {
  if (proof.terminal.kind === 'key') {
    throw invalid('proof shows a leaf for the key', { key: toHex(key) })
  }
  requireRoot(root, rootFromSmtProof(key, undefined, proof), key)
}

function requireRoot(want: Uint8Array, got: Uint8Array, key: Uint8Array): void {
  if (!bytesEqual(want, got)) {
    throw invalid('proof leads to another root', {
      key: toHex(key),
      wantRoot: toHex(want),
      gotRoot: toHex(got),
    })
  }
}
