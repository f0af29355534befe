export {
  chainNext,
  EMPTY_HASH,
  INDEX_HASH_SIZE,
  indexKey,
  indexSalt,
  indexValueHash,
  smtLeafHash,
  smtNodeHash,
  vrfInput,
} from './layout.ts'
export { SparseMerkleTree } from './smt.ts'
export {
  rootFromSmtProof,
  SMT_KEY_SIZE,
  type SmtProof,
  type SmtTerminal,
  verifySmtAbsence,
  verifySmtMembership,
} from './smt-proof.ts'
export { decodeSmtProof, encodeSmtProof } from './smt-proof-bytes.ts'
export {
  encodeToCurve,
  VRF_OUTPUT_SIZE,
  VRF_PROOF_SIZE,
  VRF_PUBLIC_KEY_SIZE,
  type VrfKeyPair,
  vrfKeyPair,
  vrfProofToHash,
  vrfProve,
  vrfVerify,
} from './vrf.ts'
